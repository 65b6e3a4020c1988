// Captures what goes over the loopback interface for some TCP ports, for tests that prove what
// is (or is not) on the wire. Runs packet-capture.py (python3, a raw AF_PACKET socket on `lo`:
// Linux as root, no tcpdump needed) and reassembles its segments into per-direction streams.
//
//     const capture = await startCapture({ ports: [serverPort] });
//     ... traffic ...
//     const result = await capture.stop();
//     assert.ok(!result.contains(Buffer.from(prompt)));
//
// Filtering on the server's port catches both directions of every connection to it (the
// client's ephemeral port need not be known).
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const SCRIPT = fileURLToPath(new URL("./packet-capture.py", import.meta.url));
const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 10_000;
/** u32 length, u8 version, u8 flags, u16 src port, u16 dst port, u32 seq, 16-byte src, 16-byte dst. */
const RECORD_HEADER = 46;
const TCP_SYN = 0x02;

export interface CapturedStream {
    /** "addr:port" of the sender and the receiver. */
    readonly source: string;
    readonly destination: string;
    readonly sourcePort: number;
    readonly destinationPort: number;
    /** The payload bytes, in sequence order, each byte once (retransmits and overlaps dropped). */
    readonly data: Buffer;
    /** Payload segments captured for this direction. */
    readonly segments: number;
    /** Holes in the sequence space (bytes missing from the capture, e.g. dropped packets). */
    readonly gaps: number;
}

export interface CaptureResult {
    /** Payload-bearing TCP segments captured (as the capture script counted them). */
    readonly segments: number;
    /** Payload bytes captured, retransmits included. */
    readonly bytes: number;
    /** Packets the kernel dropped because the capture could not keep up (should be 0). */
    readonly drops: number;
    /** Segments cut short because they were larger than the capture's receive buffer. */
    readonly truncated: number;
    /** One entry per TCP direction (per connection, per sender), in first-seen order. */
    readonly streams: readonly CapturedStream[];
    /** Every stream's data, concatenated. */
    readonly payload: Buffer;
    /** Whether some stream holds `needle` (found even when it is split across segments). */
    contains(needle: Buffer | string): boolean;
}

export interface Capture {
    /** Stops the capture (after taking in what is still queued) and returns what it saw. */
    stop(): Promise<CaptureResult>;
}

let unavailable: string | null | undefined;

/** Why this machine cannot capture (not Linux, not root, no python3), or null when it can. */
export function captureUnavailableReason(): string | null {
    if (unavailable !== undefined) return unavailable;
    if (process.platform !== "linux") unavailable = `packet capture needs Linux (this is ${process.platform})`;
    else if (process.getuid?.() !== 0) unavailable = "packet capture needs root (a raw AF_PACKET socket)";
    else {
        const probe = spawnSync("python3", ["--version"], { encoding: "utf8" });
        unavailable = probe.error != null || probe.status !== 0
            ? `packet capture needs python3 (${probe.error?.message ?? probe.stderr.trim()})` : null;
    }
    return unavailable;
}

interface Segment { seq: number; flags: number; payload: Buffer }

function address(raw: Buffer): string {
    if (raw.subarray(0, 12).equals(Buffer.from("00000000000000000000ffff", "hex"))) return [...raw.subarray(12)].join(".");
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(raw.readUInt16BE(i).toString(16));
    return `[${groups.join(":")}]`;
}

function reassemble(segments: Segment[]): { data: Buffer; gaps: number } {
    const base = segments[0]!.seq;
    // Signed distance from the first segment seen: right across a sequence-number wrap, and for
    // segments that arrived out of order.
    const ordered = segments.map((s, arrival) => ({ ...s, at: (s.seq - base) | 0, arrival }))
        .map((s) => ({ ...s, at: s.flags & TCP_SYN ? s.at + 1 : s.at }))
        .sort((a, b) => a.at - b.at || a.arrival - b.arrival);
    const parts: Buffer[] = [];
    let end = ordered[0]!.at, gaps = 0;
    for (const s of ordered) {
        if (s.at > end) gaps++;
        const skip = Math.max(0, end - s.at);
        if (skip >= s.payload.length) continue;
        parts.push(s.payload.subarray(skip));
        end = s.at + s.payload.length;
    }
    return { data: Buffer.concat(parts), gaps };
}

function parseCapture(file: Buffer): CapturedStream[] {
    const streams = new Map<string, { source: string; destination: string; sourcePort: number; destinationPort: number; segments: Segment[] }>();
    let offset = 0;
    while (offset + RECORD_HEADER <= file.length) {
        const length = file.readUInt32BE(offset);
        const flags = file.readUInt8(offset + 5);
        const sourcePort = file.readUInt16BE(offset + 6), destinationPort = file.readUInt16BE(offset + 8);
        const seq = file.readUInt32BE(offset + 10);
        const source = `${address(file.subarray(offset + 14, offset + 30))}:${sourcePort}`;
        const destination = `${address(file.subarray(offset + 30, offset + 46))}:${destinationPort}`;
        const payload = file.subarray(offset + RECORD_HEADER, offset + RECORD_HEADER + length);
        if (payload.length < length) break; // a record cut short: the capture was killed mid-write
        offset += RECORD_HEADER + length;
        const key = `${source}>${destination}`;
        let stream = streams.get(key);
        if (stream == null) streams.set(key, stream = { source, destination, sourcePort, destinationPort, segments: [] });
        stream.segments.push({ seq, flags, payload });
    }
    return [...streams.values()].map(({ segments, ...stream }) => ({ ...stream, segments: segments.length, ...reassemble(segments) }));
}

function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
        promise,
        new Promise<never>((_, reject) => { timer = setTimeout(() => reject(onTimeout()), ms); })
    ]).finally(() => clearTimeout(timer));
}

/** Starts capturing the TCP segments to or from `ports` on the loopback interface. */
export async function startCapture(options: { ports: number[] }): Promise<Capture> {
    const reason = captureUnavailableReason();
    if (reason != null) throw new Error(reason);
    if (options.ports.length === 0) throw new Error("startCapture needs at least one port");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-capture-"));
    const out = path.join(dir, "capture.bin");
    const args = [SCRIPT, ...options.ports.flatMap((p) => ["--port", String(p)]), "--out", out, "--exit-on-stdin-eof"];
    const child: ChildProcessWithoutNullStreams = spawn("python3", args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "", stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => { stdout += s; });
    child.stderr.setEncoding("utf8").on("data", (s: string) => { stderr += s; });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
        child.on("exit", (code, signal) => resolve({ code, signal }));
    });
    const spawnError = new Promise<never>((_, reject) => child.on("error", reject));
    const describe = () => `stderr: ${stderr.trim() || "(empty)"}; stdout: ${stdout.trim() || "(empty)"}`;
    const cleanUp = () => fs.rmSync(dir, { recursive: true, force: true });

    try {
        await withTimeout(Promise.race([
            new Promise<void>((resolve) => {
                const check = () => { if (/^ready$/m.test(stdout)) { child.stdout.off("data", check); resolve(); } };
                child.stdout.on("data", check);
                check();
            }),
            exited.then(({ code, signal }) => { throw new Error(`packet capture exited before it was ready (${signal ?? `code ${code}`}); ${describe()}`); }),
            spawnError
        ]), READY_TIMEOUT_MS, () => new Error(`packet capture not ready within ${READY_TIMEOUT_MS} ms; ${describe()}`));
    } catch (e) {
        child.kill("SIGKILL");
        cleanUp();
        throw e;
    }

    let stopped: Promise<CaptureResult> | null = null;
    const stop = async (): Promise<CaptureResult> => {
        try {
            if (child.exitCode == null && child.signalCode == null) child.kill("SIGTERM");
            const { code, signal } = await withTimeout(exited, STOP_TIMEOUT_MS, () => {
                child.kill("SIGKILL");
                return new Error(`packet capture did not stop within ${STOP_TIMEOUT_MS} ms; ${describe()}`);
            });
            const summaryLine = stdout.split("\n").reverse().find((line) => line.startsWith("{"));
            if (code !== 0 || summaryLine == null)
                throw new Error(`packet capture failed (${signal ?? `code ${code}`}); ${describe()}`);
            const summary = JSON.parse(summaryLine) as { segments: number; bytes: number; drops: number; truncated: number };
            const streams = parseCapture(fs.readFileSync(out));
            const payload = Buffer.concat(streams.map((s) => s.data));
            return {
                segments: summary.segments, bytes: summary.bytes, drops: summary.drops, truncated: summary.truncated,
                streams, payload,
                contains: (needle) => {
                    const n = typeof needle === "string" ? Buffer.from(needle) : needle;
                    return streams.some((s) => s.data.includes(n));
                }
            };
        } finally {
            cleanUp();
        }
    };
    return { stop: () => (stopped ??= stop()) };
}
