// Hearth nodes as real processes on 127.0.0.1, each a member of the tests' cluster
// (test-cluster.ts): mutual TLS with certificates of one CA, as between machines of a home.
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { enroll, memberClient, noteRunning, testCoordinator } from "./test-cluster.ts";

export const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "bin", "hearth.mjs");

export interface NodeProcess { name: string; address: string; dataDir: string; child: ChildProcess; log: string[] }

export interface StartNodeOptions {
    /** enroll the data dir in the tests' cluster first. Defaults to true */
    enroll?: boolean;
    /** LAN discovery (off by default: these nodes are given by address; the cluster tests turn it on) */
    discovery?: boolean;
    /** the `hearth` entry point to run. Defaults to this checkout's bin/hearth.mjs */
    bin?: string;
}

/**
 * Starts `hearth node` on 127.0.0.1 with `dataDir` (enrolled in the tests' cluster unless told
 * otherwise), without discovery and without the speed test unless asked.
 */
export async function startNode(name: string, dataDir: string, extra: string[] = [], options: StartNodeOptions = {}): Promise<NodeProcess> {
    if (options.enroll !== false) {
        await testCoordinator();
        await enroll(dataDir, name);
    }
    const flags = [...(options.discovery === true ? [] : ["--no-discovery"]), ...(extra.includes("--speed-test") ? [] : ["--no-speed-test"])];
    const child = spawn(process.execPath, [options.bin ?? bin, "node", "--port", "0", "--host", "127.0.0.1", "--name", name, "--data-dir", dataDir, ...flags, ...extra.filter((a) => a !== "--speed-test")],
        { stdio: ["ignore", "pipe", "pipe"] });
    const log: string[] = [];
    child.stderr!.on("data", (d: Buffer) => log.push(d.toString()));
    const address = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`node ${name} did not start: ${log.join("")}`)), 60000);
        child.stdout!.on("data", (d: Buffer) => {
            const m = /listening on (127\.0\.0\.1:\d+)/.exec(d.toString());
            if (m != null) { clearTimeout(timer); resolve(m[1]!); }
        });
        child.once("exit", (code) => { clearTimeout(timer); reject(new Error(`node ${name} exited with ${code}: ${log.join("")}`)); });
    });
    if (options.enroll !== false) await noteRunning(address, dataDir);
    return { name, address, dataDir, child, log };
}

/** Kills a node at once (as a crash or a pulled plug would). */
export async function stopNode(n: NodeProcess): Promise<void> {
    if (n.child.exitCode != null || n.child.signalCode != null) return;
    const exited = new Promise((r) => n.child.once("exit", r));
    n.child.kill("SIGKILL");
    await exited;
}

/** Asks a node to stop (SIGTERM) and waits; resolves with its exit code and how long it took. */
export async function terminateNode(n: NodeProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
    const t0 = performance.now();
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => n.child.once("exit", (code, signal) => r({ code, signal })));
    n.child.kill("SIGTERM");
    const r = await exited;
    return { ...r, ms: performance.now() - t0 };
}

/** Runs a `hearth` command to its end (killed, and failing, after `timeoutMs`). */
export function runHearth(args: string[], timeoutMs = 60000): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "", stderr = "";
        child.stdout!.on("data", (d: Buffer) => { stdout += d.toString(); });
        child.stderr!.on("data", (d: Buffer) => { stderr += d.toString(); });
        const timer = setTimeout(() => { child.kill("SIGKILL"); reject(new Error(`hearth ${args.join(" ")} did not finish: ${stderr}`)); }, timeoutMs);
        child.once("exit", (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
    });
}

/** Polls `fn` every 200 ms until it is true; fails naming `what` after `ms`. */
export async function until(what: string, fn: () => Promise<boolean>, ms: number): Promise<void> {
    const t0 = Date.now();
    while (!(await fn())) {
        if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
        await new Promise((r) => setTimeout(r, 200));
    }
}

/** Sequences holding KV cache on a node's stages, all pipelines together (from its GetInfo). */
export async function liveSequences(n: NodeProcess): Promise<number> {
    const c = await memberClient(n.address);
    try { return (await c.getInfo()).stages.reduce((sum, s) => sum + s.liveSequences.length, 0); } finally { c.close(); }
}
