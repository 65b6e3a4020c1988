// Hearth nodes as real processes on 127.0.0.1.
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "bin", "hearth.mjs");
export const CLUSTER_KEY_HEX = "5eed0fc1a55e7b0b5eed0fc1a55e7b0b";
export const CLUSTER_KEY = Buffer.from(CLUSTER_KEY_HEX, "hex");

export interface NodeProcess { name: string; address: string; dataDir: string; child: ChildProcess; log: string[] }

export async function startNode(name: string, dataDir: string, extra: string[] = []): Promise<NodeProcess> {
    const child = spawn(process.execPath, [bin, "node", "--port", "0", "--host", "127.0.0.1", "--name", name, "--data-dir", dataDir, "--cluster-key", CLUSTER_KEY_HEX, ...extra],
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
