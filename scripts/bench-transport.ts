// npm run bench:transport [-- --json] [-- --round-ms 1000] — what mutual TLS costs a pipeline hop:
// plaintext gRPC against mTLS with the cluster's certificates, between two real processes on
// 127.0.0.1, in one run (the figure is the difference and the ratio, not the absolute times).
// A hop is one message on a bidi stream and its small (16-byte) reply, for the message sizes of real
// steps (hidden states, f32): decode 2048×4 = 8 KiB and 4096×4 = 16 KiB (1 token of a 1B / 8B
// model), prefill 64×2048×4 = 512 KiB and 512×2048×4 = 4 MiB. For each size: a warm-up (which also
// sizes the rounds), then ROUNDS rounds of N round trips per transport, interleaved (plaintext and
// mTLS alternate which goes first), N chosen so a round takes about --round-ms. Per transport: the
// median over the rounds of the mean time of a round trip.
// The server is this script again (`--serve`), with the node's gRPC options; its mTLS side is the
// cluster's real one: nodeServerCredentials (what HearthNode serves with) + membersOnly, and the client's channelCredentials checks
// the server's node id. The certificates are made in a temp dir by the cluster CA code and removed.
import { spawn, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { createCluster, issueNodeCertificate } from "../app/cluster/ca.ts";
import { callerNodeId } from "../app/cluster/caller-node-id.ts";
import { MTLS_CHANNEL_OPTIONS, channelCredentials, nodeServerCredentials } from "../app/cluster/credentials.ts";
import { loadOrCreateNodeIdentity } from "../app/cluster/identity.ts";
import { MemberList } from "../app/cluster/member-list.ts";
import { membersOnly } from "../app/cluster/members-only.ts";
import { loadMembership, saveMembership, type ClusterMembership } from "../app/cluster/membership.ts";

const script = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(script), "..");
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024; // as app/protocol/proto.ts
const REPLY_BYTES = 16;
const ROUNDS = 5;
const WARM_UP_MS = 300;
const FIRST_WARM_UP_MS = 1000;
const SIZES = [
    { name: "decode, 1 token of a 1B model (2048 × f32)", bytes: 2048 * 4 },
    { name: "decode, 1 token of an 8B model (4096 × f32)", bytes: 4096 * 4 },
    { name: "prefill, 64 tokens of a 1B model (64 × 2048 × f32)", bytes: 64 * 2048 * 4 },
    { name: "prefill, 512 tokens of a 1B model (512 × 2048 × f32)", bytes: 512 * 2048 * 4 }
];
type Mode = "plaintext" | "mtls";

// The node's gRPC options (app/node/node.ts, app/protocol/node-client.ts).
const SERVER_OPTIONS: grpc.ServerOptions = {
    "grpc.max_receive_message_length": MAX_MESSAGE_BYTES, "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
    "grpc.keepalive_time_ms": 10000, "grpc.keepalive_timeout_ms": 5000, "grpc.keepalive_permit_without_calls": 1,
    "grpc.http2.min_ping_interval_without_data_ms": 5000, "grpc.max_concurrent_streams": 256
};
const CHANNEL_OPTIONS: grpc.ChannelOptions = {
    "grpc.max_receive_message_length": MAX_MESSAGE_BYTES, "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
    "grpc.keepalive_time_ms": 10000, "grpc.keepalive_timeout_ms": 5000, "grpc.keepalive_permit_without_calls": 1,
    "grpc.initial_reconnect_backoff_ms": 200, "grpc.max_reconnect_backoff_ms": 2000
};

const raw = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b };
const service = {
    hop: {
        path: "/hearth.bench.Transport/Hop", requestStream: true, responseStream: true,
        requestSerialize: raw.serialize, requestDeserialize: raw.deserialize, responseSerialize: raw.serialize, responseDeserialize: raw.deserialize
    },
    whoAmI: {
        path: "/hearth.bench.Transport/WhoAmI", requestStream: false, responseStream: false,
        requestSerialize: raw.serialize, requestDeserialize: raw.deserialize, responseSerialize: raw.serialize, responseDeserialize: raw.deserialize
    }
} satisfies grpc.ServiceDefinition;
interface TransportClient extends grpc.Client {
    hop(): grpc.ClientDuplexStream<Buffer, Buffer>;
    whoAmI(request: Buffer, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, reply?: Buffer) => void): grpc.ClientUnaryCall;
}
const TransportClientConstructor = grpc.makeGenericClientConstructor(service, "Transport") as unknown as
    new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => TransportClient;

// ---- the server process ----

interface ServerConfig { mode: Mode; dataDir: string }

function serve(config: ServerConfig): void {
    let credentials = grpc.ServerCredentials.createInsecure();
    const interceptors: grpc.ServerInterceptor[] = [];
    if (config.mode === "mtls") {
        const identity = loadOrCreateNodeIdentity(config.dataDir);
        const membership = loadMembership(config.dataDir, identity);
        if (membership == null) throw new Error(`${config.dataDir} holds no membership`);
        credentials = nodeServerCredentials(identity, membership);
        interceptors.push(membersOnly(MemberList.load(path.join(config.dataDir, "members.json"))));
    }
    const server = new grpc.Server({ ...SERVER_OPTIONS, interceptors });
    server.addService(service, {
        // Every message gets a 16-byte reply: its length and its first 12 bytes (the client checks both).
        hop: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
            call.on("data", (message: Buffer) => {
                const reply = Buffer.alloc(REPLY_BYTES);
                reply.writeUInt32LE(message.length, 0);
                message.copy(reply, 4, 0, REPLY_BYTES - 4);
                call.write(reply);
            });
            call.on("end", () => call.end());
        },
        whoAmI: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) =>
            callback(null, Buffer.from(JSON.stringify({ nodeId: callerNodeId(call) })))
    });
    server.bindAsync("127.0.0.1:0", credentials, (error, port) => {
        if (error) throw error;
        process.stdout.write(JSON.stringify({ port }) + "\n");
    });
    readline.createInterface({ input: process.stdin }).on("close", () => server.forceShutdown());
}

// ---- the client (this process) ----

/** Starts a server process (kept in `children`, for stopping); resolves with its port once it listens. */
function startServer(config: ServerConfig, children: ChildProcess[]): Promise<{ port: number }> {
    const child = spawn(process.execPath, ["--import", "tsx", script, "--serve"], {
        cwd: root, env: { ...process.env, BENCH_TRANSPORT_SERVER: JSON.stringify(config) }, stdio: ["pipe", "pipe", "inherit"]
    });
    children.push(child);
    return new Promise((resolve, reject) => {
        const lines = readline.createInterface({ input: child.stdout! });
        lines.once("line", (line) => resolve({ port: (JSON.parse(line) as { port: number }).port }));
        child.once("exit", (code) => reject(new Error(`the ${config.mode} server exited with ${code}`)));
    });
}

function stopServer(child: ChildProcess): void {
    child.stdin?.end();
    setTimeout(() => { if (child.exitCode == null) child.kill(); }, 2000).unref();
}

/** One hop stream: a message goes out, its reply comes back. */
class Hop {
    private readonly stream: grpc.ClientDuplexStream<Buffer, Buffer>;
    private waiting: { resolve: () => void; reject: (e: Error) => void } | null = null;
    private readonly expected = Buffer.alloc(REPLY_BYTES);

    constructor(client: TransportClient, private readonly payload: Buffer) {
        this.stream = client.hop();
        this.expected.writeUInt32LE(payload.length, 0);
        payload.copy(this.expected, 4, 0, REPLY_BYTES - 4);
        this.stream.on("data", (reply: Buffer) => {
            const w = this.waiting;
            this.waiting = null;
            if (w == null) return;
            if (reply.equals(this.expected)) w.resolve();
            else w.reject(new Error(`a wrong reply to a ${payload.length}-byte message`));
        });
        this.stream.on("error", (e: Error) => { const w = this.waiting; this.waiting = null; w?.reject(e); });
    }

    roundTrip(): Promise<void> {
        return new Promise((resolve, reject) => { this.waiting = { resolve, reject }; this.stream.write(this.payload); });
    }

    /** The mean time of one round trip over `count` of them, in ms. */
    async time(count: number): Promise<number> {
        const start = process.hrtime.bigint();
        for (let i = 0; i < count; i++) await this.roundTrip();
        return Number(process.hrtime.bigint() - start) / 1e6 / count;
    }

    /** Round trips for about `ms` (at least `min`); their mean time in ms. */
    async warmUp(ms: number, min = 20): Promise<number> {
        const start = performance.now();
        let count = 0;
        while (count < min || performance.now() - start < ms) {
            await this.roundTrip();
            count++;
        }
        return (performance.now() - start) / count;
    }

    private closed = false;
    close(): void {
        if (this.closed) return;
        this.closed = true;
        this.stream.end();
    }
}

function whoAmI(c: TransportClient): Promise<string | null> {
    return new Promise((resolve, reject) => c.whoAmI(Buffer.alloc(0), { deadline: Date.now() + 10000 }, (e, r) =>
        (e ? reject(e) : resolve((JSON.parse(r!.toString()) as { nodeId: string | null }).nodeId))));
}

const median = (values: number[]): number => {
    const s = [...values].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const formatBytes = (n: number): string => (n >= 1 << 20 ? `${n / (1 << 20)} MiB` : `${n / 1024} KiB`);

interface TransportFigures { medianMs: number; minMs: number; maxMs: number; roundsMs: number[] }
interface SizeFigures {
    name: string; bytes: number; roundTripsPerRound: number;
    plaintext: TransportFigures; mtls: TransportFigures;
    /** mTLS − plaintext, ms per hop (of the medians) */
    differenceMs: number;
    /** the median of the per-round differences (each mTLS round against the plaintext round next to it) */
    pairedDifferenceMs: number;
    ratio: number;
    /** what mTLS costs per MiB carried, ms (differenceMs / message size) */
    differenceMsPerMiB: number;
}

async function main(): Promise<void> {
    const json = process.argv.includes("--json");
    const roundMsArg = process.argv.indexOf("--round-ms");
    const roundMs = roundMsArg > 0 ? Number(process.argv[roundMsArg + 1]) : Number(process.env.BENCH_ROUND_MS ?? 1000);
    if (!(roundMs > 0)) throw new Error("--round-ms wants a positive number of milliseconds");
    const log = (line: string) => { if (!json) console.log(line); };
    const started = performance.now();

    // Two nodes of one cluster: the server (which holds the CA) and the client, a member.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-bench-transport-"));
    const children: ChildProcess[] = [];
    const clients: TransportClient[] = [];
    const hops: Hop[] = [];
    const cleanUp = () => {
        for (const h of hops) h.close();
        for (const c of clients) c.close();
        for (const child of children) stopServer(child);
        fs.rmSync(dir, { recursive: true, force: true });
    };
    const interrupted = () => { cleanUp(); process.exit(130); };
    process.once("SIGINT", interrupted);
    try {
        const serverDir = path.join(dir, "server");
        const clientDir = path.join(dir, "client");
        fs.mkdirSync(serverDir);
        fs.mkdirSync(clientDir);
        const serverIdentity = loadOrCreateNodeIdentity(serverDir);
        const clientIdentity = loadOrCreateNodeIdentity(clientDir);
        const ca = await createCluster({ dataDir: serverDir, name: "bench cluster" });
        const serverMembership: ClusterMembership = {
            clusterId: ca.clusterId, caCertificatePem: ca.certificatePem,
            certificatePem: await issueNodeCertificate(ca, { nodeId: serverIdentity.nodeId, name: "stage-a", publicKey: serverIdentity.publicKey })
        };
        const clientMembership: ClusterMembership = {
            clusterId: ca.clusterId, caCertificatePem: ca.certificatePem,
            certificatePem: await issueNodeCertificate(ca, { nodeId: clientIdentity.nodeId, name: "stage-b", publicKey: clientIdentity.publicKey })
        };
        saveMembership(serverDir, serverMembership);
        saveMembership(clientDir, clientMembership);
        const members = MemberList.load(path.join(serverDir, "members.json"));
        members.add({ nodeId: serverIdentity.nodeId, name: "stage-a" });
        members.add({ nodeId: clientIdentity.nodeId, name: "stage-b" });

        const [plainServer, secureServer] = await Promise.all([startServer({ mode: "plaintext", dataDir: serverDir }, children), startServer({ mode: "mtls", dataDir: serverDir }, children)]);
        const seenServers: string[] = [];
        const plainClient = new TransportClientConstructor(`127.0.0.1:${plainServer.port}`, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
        const secureClient = new TransportClientConstructor(`127.0.0.1:${secureServer.port}`,
            channelCredentials(clientIdentity, clientMembership, { expectedNodeId: serverIdentity.nodeId, onServerNodeId: (id) => seenServers.push(id) }),
            { ...CHANNEL_OPTIONS, ...MTLS_CHANNEL_OPTIONS });
        clients.push(plainClient, secureClient);
        const clientFor: Record<Mode, TransportClient> = { plaintext: plainClient, mtls: secureClient };

        // The links are what they claim: plaintext knows no caller; mTLS knows both ends by node id.
        if ((await whoAmI(plainClient)) !== null) throw new Error("the plaintext server saw a node id");
        const caller = await whoAmI(secureClient);
        if (caller !== clientIdentity.nodeId) throw new Error(`the mTLS server saw caller ${caller}, not ${clientIdentity.nodeId}`);
        if (seenServers[0] !== serverIdentity.nodeId) throw new Error("the mTLS client did not check the server's node id");

        const grpcVersion = (createRequire(import.meta.url)("@grpc/grpc-js/package.json") as { version: string }).version;
        log(`Per-hop cost of mutual TLS, one message + a ${REPLY_BYTES}-byte reply on a bidi gRPC stream, 127.0.0.1, two processes`);
        log(`grpc-js ${grpcVersion}, Node ${process.version}, ${os.cpus().length} CPUs; ${ROUNDS} interleaved rounds of ~${roundMs} ms per transport and size; ` +
            `mTLS: cluster certificates (ECDSA P-256), server ${serverIdentity.nodeId.slice(0, 8)}…, client ${clientIdentity.nodeId.slice(0, 8)}… (both checked)`);

        // A first warm-up of both links (JIT, TLS and HTTP/2 windows) before any size is measured.
        for (const mode of ["plaintext", "mtls"] as const) {
            const first = new Hop(clientFor[mode], crypto.randomBytes(16384));
            hops.push(first);
            await first.warmUp(FIRST_WARM_UP_MS / 2);
            first.close();
        }

        const results: SizeFigures[] = [];
        for (const size of SIZES) {
            const payload = crypto.randomBytes(size.bytes);
            const hop: Record<Mode, Hop> = { plaintext: new Hop(clientFor.plaintext, payload), mtls: new Hop(clientFor.mtls, payload) };
            hops.push(hop.plaintext, hop.mtls);
            // Warm up both (connections, TLS session, buffers, JIT), and size the rounds from it.
            const estimate = { plaintext: await hop.plaintext.warmUp(WARM_UP_MS), mtls: await hop.mtls.warmUp(WARM_UP_MS) };
            const count = Math.max(10, Math.round(roundMs / ((estimate.plaintext + estimate.mtls) / 2)));
            const rounds: Record<Mode, number[]> = { plaintext: [], mtls: [] };
            for (let round = 0; round < ROUNDS; round++) {
                const order: Mode[] = round % 2 === 0 ? ["plaintext", "mtls"] : ["mtls", "plaintext"];
                for (const mode of order) rounds[mode].push(await hop[mode].time(count));
            }
            hop.plaintext.close();
            hop.mtls.close();
            const figures = (v: number[]): TransportFigures => ({ medianMs: median(v), minMs: Math.min(...v), maxMs: Math.max(...v), roundsMs: v });
            const plaintext = figures(rounds.plaintext);
            const mtls = figures(rounds.mtls);
            const differenceMs = mtls.medianMs - plaintext.medianMs;
            results.push({
                name: size.name, bytes: size.bytes, roundTripsPerRound: count, plaintext, mtls, differenceMs,
                pairedDifferenceMs: median(rounds.mtls.map((m, i) => m - rounds.plaintext[i]!)),
                ratio: mtls.medianMs / plaintext.medianMs,
                differenceMsPerMiB: differenceMs / (size.bytes / (1 << 20))
            });
        }

        const totalS = (performance.now() - started) / 1000;
        if (json) {
            console.log(JSON.stringify({
                bench: "transport", host: "127.0.0.1", grpcJs: grpcVersion, node: process.version, cpus: os.cpus().length,
                replyBytes: REPLY_BYTES, rounds: ROUNDS, roundMs, totalS, sizes: results
            }, null, 2));
        } else {
            const header = ["message", "size", "N/round", "plaintext ms", "mTLS ms", "mTLS − plain ms/hop", "paired Δ ms", "ratio"];
            const rows = results.map((r) => [
                r.name, formatBytes(r.bytes), String(r.roundTripsPerRound),
                `${r.plaintext.medianMs.toFixed(3)} (${r.plaintext.minMs.toFixed(3)}–${r.plaintext.maxMs.toFixed(3)})`,
                `${r.mtls.medianMs.toFixed(3)} (${r.mtls.minMs.toFixed(3)}–${r.mtls.maxMs.toFixed(3)})`,
                `${r.differenceMs >= 0 ? "+" : ""}${r.differenceMs.toFixed(3)}`,
                `${r.pairedDifferenceMs >= 0 ? "+" : ""}${r.pairedDifferenceMs.toFixed(3)}`,
                `×${r.ratio.toFixed(2)}`
            ]);
            const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
            const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
            log("");
            log(line(header));
            log(widths.map((w) => "-".repeat(w)).join("  "));
            for (const row of rows) log(line(row));
            log("");
            log(`ms: median over the rounds of the mean round trip (min–max of the rounds in brackets); paired Δ: median of each mTLS round ` +
                `minus the plaintext round beside it. Total ${totalS.toFixed(1)} s.`);
        }
    } finally {
        process.removeListener("SIGINT", interrupted);
        cleanUp();
    }
}

if (process.argv.includes("--serve")) serve(JSON.parse(process.env.BENCH_TRANSPORT_SERVER ?? "{}") as ServerConfig);
else await main();
