// Real Hearth nodes as processes on 127.0.0.1 for the end-to-end tests: the node whose web UI
// the browser drives, and the machines that join it with the codes its UI shows.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const bin = path.join(root, "bin", "hearth.mjs");
export const artifacts = path.join(root, "e2e", "artifacts");

export interface Proc { name: string; dataDir: string; child: ChildProcess; out: string[]; err: string[]; exited: Promise<number | null> }

export function tempDir(prefix: string): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), `hearth-e2e-${prefix}-`));
}

function start(name: string, dataDir: string, args: string[], ready: RegExp): Promise<{ proc: Proc; match: RegExpExecArray }> {
    const child = spawn(process.execPath, [bin, "node", "--name", name, "--data-dir", dataDir, "--host", "127.0.0.1", "--port", "0", "--no-discovery", "--no-speed-test", ...args],
        { stdio: ["ignore", "pipe", "pipe"] });
    const proc: Proc = { name, dataDir, child, out: [], err: [], exited: new Promise((r) => child.once("exit", (code) => r(code))) };
    child.stderr!.on("data", (d: Buffer) => proc.err.push(d.toString()));
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name} did not start: ${proc.err.join("")}`)), 90_000);
        let seen = "";
        child.stdout!.on("data", (d: Buffer) => {
            proc.out.push(d.toString());
            seen += d.toString();
            const m = ready.exec(seen);
            if (m != null) { clearTimeout(timer); resolve({ proc, match: m }); }
        });
        child.once("exit", (code) => { clearTimeout(timer); reject(new Error(`${name} exited with ${code}: ${proc.err.join("")}`)); });
    });
}

/** `hearth node --web` in setup (no cluster yet): resolves with its web UI's address. */
export async function startWebNode(name: string, dataDir: string, extra: string[]): Promise<{ proc: Proc; url: string }> {
    const { proc, match } = await start(name, dataDir, ["--web", "0", ...extra], /hearth web UI: open (http:\/\/\S+)/);
    return { proc, url: match[1]! };
}

/** `hearth node --join CODE --peer ADDRESS`: resolves once it listens as a member. */
export async function startJoiningNode(name: string, dataDir: string, code: string, peer: string, extra: string[]): Promise<Proc> {
    return (await start(name, dataDir, ["--join", code, "--peer", peer, ...extra], /listening on 127\.0\.0\.1:\d+/)).proc;
}

/** A node that is a member already (its data dir holds the cluster). */
export async function restartNode(name: string, dataDir: string, extra: string[]): Promise<Proc> {
    return (await start(name, dataDir, extra, /listening on 127\.0\.0\.1:\d+/)).proc;
}

/** Where the node of `dataDir` listens (gRPC), from the record it keeps while it runs. */
export function nodeAddress(dataDir: string): string {
    return (JSON.parse(fs.readFileSync(path.join(dataDir, "node.json"), "utf8")) as { address: string }).address;
}

export async function stop(proc: Proc, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    if (proc.child.exitCode != null || proc.child.signalCode != null) return;
    proc.child.kill(signal);
    const t = setTimeout(() => proc.child.kill("SIGKILL"), 5000);
    await proc.exited;
    clearTimeout(t);
}
