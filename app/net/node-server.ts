// A Hearth node: a gRPC server hosting pipeline stages. It checks every call (joined peer, valid
// message), keeps stage files in its cache, streams hidden states to its successor and sampled
// tokens to the coordinator.
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { loadAddon, type NativeAddon } from "../native/addon.ts";
import { getLlamaInstance } from "../native/llama.ts";
import { stageFilePath } from "../model/stage-cache.ts";
import { StageInputError, StageRuntime, type ForwardInput, type ForwardOutput } from "../stage/runtime.ts";
import { formatBytes } from "../util/format.ts";
import { bytesPerValue, decodeHidden, encodeHidden } from "./activations.ts";
import { Sessions } from "./auth.ts";
import { MAX_MESSAGE_BYTES, NodeClient } from "./client.ts";
import { HEARTH_VERSION } from "../version.ts";
import {
    InvalidMessage, PROTOCOL_VERSION, guardedServiceDefinition,
    type ActivationMsg, type NodeInfoMsg, type PrepareReplyMsg, type PrepareStageMsg, type StageErrorMsg, type TokenEventMsg, type UploadChunkMsg
} from "./proto.ts";

export interface NodeServerOptions {
    name: string;
    host?: string;
    port: number;
    dataDir: string;
    clusterKey: Buffer;
    /** the most memory this node lets its stages use (default: all free memory) */
    memoryLimitBytes?: number;
    log?: (line: string) => void;
}

const PIPELINE_ID = /^[A-Za-z0-9_-]{1,64}$/;
const SHA256 = /^[0-9a-f]{64}$/;
const MAX_CHUNK = 4 * 1024 * 1024;
/** how long an idle stage waits for other live sequences' steps before computing (ms) */
const COALESCE_MS = 2;

class Fail extends Error {
    constructor(readonly code: grpc.status, message: string) { super(message); }
}

interface Downstream {
    address: string;
    client: NodeClient;
    stream: grpc.ClientDuplexStream<ActivationMsg, { error?: StageErrorMsg }>;
    broken: string | null;
}

interface HostedStage {
    pipelineId: string;
    modelSha256: string;
    stageSha256: string;
    total: number;
    stage: StageRuntime;
    next: Downstream | null;
    nextAddress: string;
    upstreams: Set<grpc.ServerDuplexStream<ActivationMsg, unknown>>;
    subscribers: Set<grpc.ServerWritableStream<unknown, TokenEventMsg>>;
    memoryBytes: number;
    /** activations waiting for the stage, oldest first */
    pending: PendingActivation[];
    running: boolean;
    batches: number;
    batchedSequences: number;
}

interface PendingActivation {
    msg: ActivationMsg;
    input: ForwardInput;
    reject: (code: grpc.status, message: string) => void;
}

export class NodeServer {
    private readonly server = new grpc.Server({ "grpc.max_receive_message_length": MAX_MESSAGE_BYTES, "grpc.max_send_message_length": MAX_MESSAGE_BYTES });
    private readonly sessions: Sessions;
    private readonly pipelines = new Map<string, HostedStage>();
    private readonly preparing = new Map<string, Promise<PrepareReplyMsg>>();
    private readonly uploading = new Set<string>();
    private readonly started = performance.now();
    private addon!: NativeAddon;
    private backend = "cpu";
    port = 0;

    private constructor(private readonly o: NodeServerOptions) {
        this.sessions = new Sessions(o.clusterKey);
    }

    static async start(o: NodeServerOptions): Promise<NodeServer> {
        const n = new NodeServer(o);
        n.addon = await loadAddon();
        const gpu = (await getLlamaInstance()).gpu;
        n.backend = gpu === false ? "cpu" : gpu;
        n.server.addService(guardedServiceDefinition(), n.handlers());
        n.port = await new Promise<number>((resolve, reject) =>
            n.server.bindAsync(`${o.host ?? "0.0.0.0"}:${o.port}`, grpc.ServerCredentials.createInsecure(), (e, port) => (e ? reject(e) : resolve(port))));
        return n;
    }

    private log(line: string) { this.o.log?.(`[${this.o.name}] ${line}`); }

    async stop(): Promise<void> {
        for (const p of this.pipelines.values()) await this.closePipeline(p);
        // Upstream activation streams stay open as long as their pipeline does: give calls in flight
        // a moment, then cut the rest.
        const graceful = new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
        await Promise.race([graceful, new Promise((r) => setTimeout(r, 2000).unref())]);
        this.server.forceShutdown();
    }

    // ---- helpers ------------------------------------------------------------------------------

    private usedMemory(): number {
        let n = 0;
        for (const p of this.pipelines.values()) n += p.memoryBytes;
        return n;
    }

    freeMemory(): number {
        const free = os.freemem();
        if (this.o.memoryLimitBytes == null) return free;
        return Math.max(0, Math.min(free, this.o.memoryLimitBytes - this.usedMemory()));
    }

    info(): NodeInfoMsg {
        return {
            name: this.o.name, version: HEARTH_VERSION, protocol: PROTOCOL_VERSION, os: `${process.platform} ${process.arch}`,
            backend: this.backend, totalMemoryBytes: this.o.memoryLimitBytes ?? os.totalmem(), freeMemoryBytes: this.freeMemory(),
            cpuThreads: os.availableParallelism(), capabilities: ["f16-activations", "resumable-upload"],
            stages: [...this.pipelines.values()].map((p) => ({
                pipelineId: p.pipelineId, modelSha256: p.modelSha256, layerStart: p.stage.range.start, layerEnd: p.stage.range.end,
                layerTotal: p.total, liveSequences: p.stage.liveSequences(),
                batches: p.batches, batchedSequences: p.batchedSequences, batchesExactly: p.stage.batchesExactly
            }))
        };
    }

    /** Wraps a unary handler: authentication, message validity, errors to status codes. */
    private unary<Req, Res>(name: string, fn: (req: Req, peer: string) => Promise<Res> | Res, open = false): grpc.handleUnaryCall<Req, Res> {
        return (call, callback) => {
            const peer = this.sessions.check(call.metadata);
            if (!open && peer == null) return callback({ code: grpc.status.UNAUTHENTICATED, details: `${name}: join the cluster first (Join with the cluster key)` });
            if ((call.request as unknown) instanceof InvalidMessage) return callback({ code: grpc.status.INVALID_ARGUMENT, details: (call.request as unknown as InvalidMessage).reason });
            Promise.resolve()
                .then(() => fn(call.request, peer ?? ""))
                .then((res) => callback(null, res))
                .catch((e: Error) => callback({ code: e instanceof Fail ? e.code : e instanceof StageInputError ? grpc.status.INVALID_ARGUMENT : grpc.status.INTERNAL, details: `node '${this.o.name}': ${e.message}` }));
        };
    }

    private handlers(): grpc.UntypedServiceImplementation {
        return {
            join: this.unary<{ clusterKey: Buffer; peerName: string }, unknown>("Join", (req) => {
                const token = this.sessions.join(req.clusterKey, req.peerName);
                if (token == null) throw new Fail(grpc.status.PERMISSION_DENIED, "wrong cluster key: copy the key from a machine of this cluster");
                this.log(`${req.peerName || "a peer"} joined`);
                return { sessionToken: token, node: this.info() };
            }, true),
            getInfo: this.unary("GetInfo", () => this.info()),
            health: this.unary("Health", () => ({ serving: true, uptimeS: (performance.now() - this.started) / 1000 })),
            prepareStage: this.unary<PrepareStageMsg, PrepareReplyMsg>("PrepareStage", (req) => this.prepareStage(req)),
            releaseSequence: this.unary<{ pipelineId: string; seqId: number }, unknown>("ReleaseSequence", async (req) => {
                const p = this.pipeline(req.pipelineId);
                if (!Number.isInteger(req.seqId) || req.seqId >= p.stage.maxSequences) throw new Fail(grpc.status.INVALID_ARGUMENT, `sequence ${req.seqId} is out of range`);
                await p.stage.removeSequence(req.seqId);
                return { released: true };
            }),
            closePipeline: this.unary<{ pipelineId: string }, unknown>("ClosePipeline", async (req) => {
                const p = this.pipelines.get(req.pipelineId);
                if (p != null) await this.closePipeline(p);
                return {};
            }),
            uploadStage: (call: grpc.ServerReadableStream<UploadChunkMsg, unknown>, callback: grpc.sendUnaryData<unknown>) => this.uploadStage(call, callback),
            forward: (call: grpc.ServerDuplexStream<ActivationMsg, unknown>) => this.forward(call),
            subscribe: (call: grpc.ServerWritableStream<{ pipelineId: string }, TokenEventMsg>) => this.subscribe(call)
        };
    }

    private pipeline(id: string): HostedStage {
        const p = this.pipelines.get(id);
        if (p == null) throw new Fail(grpc.status.INVALID_ARGUMENT, `unknown pipeline '${String(id).slice(0, 64)}' (prepare its stage first)`);
        return p;
    }

    private async closePipeline(p: HostedStage) {
        this.pipelines.delete(p.pipelineId);
        for (const s of p.subscribers) s.end();
        if (p.next != null) { p.next.stream.end(); p.next.client.close(); }
        await p.stage.dispose();
        this.log(`closed pipeline ${p.pipelineId}`);
    }

    // ---- stage preparation and transfer -------------------------------------------------------

    private validatePrepare(req: PrepareStageMsg) {
        const bad = (m: string) => { throw new Fail(grpc.status.INVALID_ARGUMENT, m); };
        if (!PIPELINE_ID.test(req.pipelineId)) bad("pipeline id must be 1-64 characters of [A-Za-z0-9_-]");
        if (!SHA256.test(req.modelSha256) || !SHA256.test(req.stageSha256)) bad("model and stage hashes must be 64 lowercase hex characters");
        const r = req.layers;
        if (r == null || r.end <= r.start || r.end > req.layerTotal || req.layerTotal > 4096) bad("layer range out of bounds");
        const o = req.options;
        if (o == null || o.contextSize < 1 || o.contextSize > 1 << 20 || o.maxSequences < 1 || o.maxSequences > 256 || o.batchSize < 1 || o.batchSize > 8192 || o.threads > 1024)
            bad("stage options out of range (context 1..1048576, sequences 1..256, batch 1..8192)");
        if (req.stageBytes <= 0 || req.stageBytes > 2 ** 45) bad("stage size out of range");
        if (req.nextAddress !== "" && !/^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/.test(req.nextAddress)) bad(`bad next address '${req.nextAddress.slice(0, 100)}'`);
    }

    private async prepareStage(req: PrepareStageMsg): Promise<PrepareReplyMsg> {
        this.validatePrepare(req);
        const existing = this.pipelines.get(req.pipelineId);
        if (existing != null) {
            if (existing.stageSha256 !== req.stageSha256) throw new Fail(grpc.status.ALREADY_EXISTS, `pipeline ${req.pipelineId} already holds another stage here`);
            return { status: "READY", resumeOffset: 0, fromCache: true, loadMs: 0 };
        }
        const inFlight = this.preparing.get(req.pipelineId);
        if (inFlight != null) return inFlight;
        const run = this.prepareNew(req).finally(() => this.preparing.delete(req.pipelineId));
        this.preparing.set(req.pipelineId, run);
        return run;
    }

    private async prepareNew(req: PrepareStageMsg): Promise<PrepareReplyMsg> {
        const range = req.layers!;
        const file = stageFilePath(this.o.dataDir, req.modelSha256, range);
        const free = this.freeMemory();
        if (req.requiredMemoryBytes > free)
            throw new Fail(grpc.status.RESOURCE_EXHAUSTED, `node '${this.o.name}' has ${formatBytes(free)} free; layers ${range.start}-${range.end} need ${formatBytes(req.requiredMemoryBytes)}` +
                ` (${formatBytes(req.requiredMemoryBytes - free)} more) — add a machine, give this one fewer layers, or choose a smaller quantization`);
        if (!fs.existsSync(file) || fs.statSync(file).size !== req.stageBytes) {
            const partial = `${file}.partial`;
            const have = fs.existsSync(partial) ? fs.statSync(partial).size : 0;
            return { status: "NEED_UPLOAD", resumeOffset: have <= req.stageBytes ? have : 0, fromCache: false, loadMs: 0 };
        }
        const t0 = performance.now();
        const o = req.options!;
        const stage = await StageRuntime.load(file, {
            contextSize: o.contextSize, maxSequences: o.maxSequences, batchSize: o.batchSize,
            threads: o.threads, gpuLayers: o.gpuLayers, flashAttention: o.flashAttention
        });
        if (stage.range.start !== range.start || stage.range.end !== range.end) {
            await stage.dispose();
            throw new Fail(grpc.status.DATA_LOSS, `cached stage file ${file} holds layers ${stage.range.start}-${stage.range.end}, not ${range.start}-${range.end}`);
        }
        const hosted: HostedStage = {
            pipelineId: req.pipelineId, modelSha256: req.modelSha256, stageSha256: req.stageSha256, total: req.layerTotal, stage,
            next: null, nextAddress: req.nextAddress, upstreams: new Set(), subscribers: new Set(), memoryBytes: req.requiredMemoryBytes,
            pending: [], running: false, batches: 0, batchedSequences: 0
        };
        if (req.nextAddress !== "") {
            try {
                hosted.next = await this.connectDownstream(hosted, req.nextAddress);
            } catch (e) {
                await stage.dispose();
                throw new Fail(grpc.status.UNAVAILABLE, `cannot reach the next stage at ${req.nextAddress}: ${(e as Error).message}`);
            }
        }
        this.pipelines.set(req.pipelineId, hosted);
        this.log(`pipeline ${req.pipelineId}: layers ${range.start}-${range.end} of ${req.layerTotal} loaded${req.nextAddress ? `, next ${req.nextAddress}` : " (last stage)"}`);
        return { status: "READY", resumeOffset: 0, fromCache: true, loadMs: performance.now() - t0 };
    }

    private async connectDownstream(p: HostedStage, address: string): Promise<Downstream> {
        const client = new NodeClient(address);
        try {
            await client.join(this.o.clusterKey, this.o.name);
        } catch (e) {
            client.close();
            throw e;
        }
        const stream = client.forward();
        const d: Downstream = { address, client, stream, broken: null };
        const breakLink = (why: string) => {
            if (d.broken != null) return;
            d.broken = why;
            this.relayUpstream(p, { pipelineId: p.pipelineId, seqId: 0, step: 0, node: address, message: `the next stage (${address}) failed: ${why}`, grpcCode: grpc.status.UNAVAILABLE });
        };
        stream.on("data", (ev: { error?: StageErrorMsg }) => { if (ev.error != null) this.relayUpstream(p, ev.error); });
        stream.on("error", (e: Error) => breakLink(e.message));
        stream.on("end", () => breakLink("it closed the stream"));
        return d;
    }

    private relayUpstream(p: HostedStage, error: StageErrorMsg) {
        for (const up of p.upstreams) up.write({ error });
    }

    private uploadStage(call: grpc.ServerReadableStream<UploadChunkMsg, unknown>, callback: grpc.sendUnaryData<unknown>) {
        const fail = (code: grpc.status, m: string) => { if (!done) { done = true; callback({ code, details: `node '${this.o.name}': ${m}` }); } cleanup(); };
        let done = false;
        let fd: number | null = null;
        let file = "";
        let partial = "";
        let expected = 0;
        let position = 0;
        let received = 0;
        let sha = "";
        const cleanup = () => {
            if (fd != null) { fs.closeSync(fd); fd = null; }
            if (file !== "") this.uploading.delete(file);
        };
        if (this.sessions.check(call.metadata) == null) return fail(grpc.status.UNAUTHENTICATED, "UploadStage: join the cluster first");
        call.on("data", (msg: UploadChunkMsg | InvalidMessage) => {
            if (done) return;
            try {
                if (msg instanceof InvalidMessage) throw new Fail(grpc.status.INVALID_ARGUMENT, msg.reason);
                if (fd == null) {
                    const h = msg.header;
                    if (h == null || !SHA256.test(h.modelSha256) || !SHA256.test(h.stageSha256) || h.layers == null || h.layers.end <= h.layers.start || h.stageBytes <= 0)
                        throw new Fail(grpc.status.INVALID_ARGUMENT, "the first upload message must carry a valid header");
                    file = stageFilePath(this.o.dataDir, h.modelSha256, h.layers);
                    if (this.uploading.has(file)) { file = ""; throw new Fail(grpc.status.ABORTED, "this stage file is already being uploaded"); }
                    this.uploading.add(file);
                    partial = `${file}.partial`;
                    fs.mkdirSync(path.dirname(file), { recursive: true });
                    const have = fs.existsSync(partial) ? fs.statSync(partial).size : 0;
                    if (msg.offset !== have) throw new Fail(grpc.status.INVALID_ARGUMENT, `upload must resume at byte ${have}, not ${msg.offset}`);
                    const disk = fs.statfsSync(path.dirname(file));
                    if (disk.bavail * disk.bsize < h.stageBytes - have)
                        throw new Fail(grpc.status.RESOURCE_EXHAUSTED, `not enough disk space: ${formatBytes(disk.bavail * disk.bsize)} free, the stage needs ${formatBytes(h.stageBytes - have)}`);
                    fd = fs.openSync(partial, "a");
                    expected = h.stageBytes;
                    position = have;
                    sha = h.stageSha256;
                } else if (msg.header != null) {
                    throw new Fail(grpc.status.INVALID_ARGUMENT, "only the first upload message may carry a header");
                }
                if (msg.offset !== position) throw new Fail(grpc.status.INVALID_ARGUMENT, `chunk at byte ${msg.offset} does not follow byte ${position}`);
                if (msg.data.length > MAX_CHUNK) throw new Fail(grpc.status.INVALID_ARGUMENT, `chunk of ${msg.data.length} bytes is over the ${MAX_CHUNK}-byte limit`);
                if (position + msg.data.length > expected) throw new Fail(grpc.status.INVALID_ARGUMENT, "upload runs past the announced stage size");
                fs.writeSync(fd, msg.data);
                position += msg.data.length;
                received += msg.data.length;
            } catch (e) {
                fail(e instanceof Fail ? e.code : grpc.status.INTERNAL, (e as Error).message);
            }
        });
        call.on("end", () => {
            if (done) return;
            if (fd == null) return fail(grpc.status.INVALID_ARGUMENT, "empty upload");
            fs.closeSync(fd);
            fd = null;
            if (position < expected) { done = true; callback(null, { bytesReceived: received, complete: false }); return cleanup(); }
            const hash = crypto.createHash("sha256");
            const stream = fs.createReadStream(partial, { highWaterMark: 4 * 1024 * 1024 });
            stream.on("data", (c) => hash.update(c as Buffer));
            stream.on("error", (e) => fail(grpc.status.INTERNAL, e.message));
            stream.on("end", () => {
                if (hash.digest("hex") !== sha) {
                    fs.rmSync(partial, { force: true });
                    return fail(grpc.status.DATA_LOSS, "the stage file arrived damaged (SHA-256 mismatch); it was discarded, send it again");
                }
                fs.renameSync(partial, file);
                this.log(`received stage ${file} (${formatBytes(expected)})`);
                done = true;
                callback(null, { bytesReceived: received, complete: true });
                cleanup();
            });
        });
        call.on("error", () => cleanup());
    }

    // ---- the activation stream ----------------------------------------------------------------

    private forward(call: grpc.ServerDuplexStream<ActivationMsg, unknown>) {
        if (this.sessions.check(call.metadata) == null) {
            call.emit("error", { code: grpc.status.UNAUTHENTICATED, details: "Forward: join the cluster first" });
            return;
        }
        const joinedTo = new Set<HostedStage>();
        let closed = false;
        const reject = (code: grpc.status, message: string) => {
            if (closed) return;
            closed = true;
            for (const p of joinedTo) p.upstreams.delete(call);
            call.emit("error", { code, details: `node '${this.o.name}': ${message}` });
        };
        call.on("data", (msg: ActivationMsg | InvalidMessage) => {
            if (closed) return;
            try {
                if (msg instanceof InvalidMessage) throw new Fail(grpc.status.INVALID_ARGUMENT, msg.reason);
                const p = this.pipeline(msg.pipelineId);
                if (!joinedTo.has(p)) { joinedTo.add(p); p.upstreams.add(call); }
                this.handleActivation(p, msg, (code, message) => reject(code, message));
            } catch (e) {
                reject(e instanceof Fail ? e.code : grpc.status.INTERNAL, (e as Error).message);
            }
        });
        const detach = () => { closed = true; for (const p of joinedTo) p.upstreams.delete(call); };
        call.on("end", () => { detach(); call.end(); });
        call.on("error", detach);
        call.on("cancelled", detach);
    }

    private handleActivation(p: HostedStage, msg: ActivationMsg, reject: (code: grpc.status, message: string) => void) {
        const stage = p.stage;
        const bad = (m: string) => { throw new Fail(grpc.status.INVALID_ARGUMENT, m); };
        if (msg.nTokens < 1 || msg.nTokens > stage.batchSize) bad(`n_tokens ${msg.nTokens} is out of range 1-${stage.batchSize}`);
        if (msg.seqId >= stage.maxSequences) bad(`unknown sequence ${msg.seqId}: this stage holds sequences 0-${stage.maxSequences - 1}`);
        // Each sequence has at most a few steps in flight (a prompt in chunks); more is a flood.
        if (p.pending.length >= stage.maxSequences * 16)
            throw new Fail(grpc.status.RESOURCE_EXHAUSTED, `${p.pending.length} activations are already waiting for this stage; send fewer at once`);
        let input: { tokens: Int32Array } | { hidden: Float32Array };
        if (stage.first) {
            if (msg.hidden.length > 0 || msg.tokens.length !== msg.nTokens) bad(`the first stage takes ${msg.nTokens} token ids and no hidden states`);
            input = { tokens: Int32Array.from(msg.tokens) };
        } else {
            const bpv = bytesPerValue(msg.dtype);
            if (bpv == null) bad("hidden states need a dtype (F32 or F16)");
            if (msg.tokens.length > 0) bad("this stage takes hidden states, not token ids");
            const want = msg.nTokens * stage.nEmbd * bpv!;
            if (msg.hidden.length !== want) bad(`hidden states of ${msg.hidden.length} bytes do not match ${msg.nTokens} tokens × ${stage.nEmbd} values × ${bpv} bytes = ${want}`);
            input = { hidden: decodeHidden(this.addon, msg.hidden, msg.dtype) };
        }
        p.pending.push({
            msg, reject,
            input: { seqId: msg.seqId, pos: msg.pos, ...input, ...(stage.last ? { sample: msg.sample, ...(msg.accept.length > 0 ? { accept: Int32Array.from(msg.accept) } : {}) } : {}) }
        });
        if (!p.running) {
            p.running = true;
            // When other sequences are live here, their next steps are usually a moment behind this
            // one (they left the previous stage in the same batch): wait briefly so they share a
            // batch. A lone sequence starts at once.
            const others = stage.batchesExactly && msg.nTokens === 1 && stage.liveSequences().some((s) => s !== msg.seqId);
            if (others) setTimeout(() => this.pump(p), COALESCE_MS);
            else setImmediate(() => this.pump(p));
        }
    }

    /**
     * Runs waiting activations through the stage. While one batch computes, others queue up; the
     * next batch takes every waiting sequence at once (one llama.cpp batch) when that is exact.
     */
    private pump(p: HostedStage) {
        const stage = p.stage;
        const batch: PendingActivation[] = [];
        const seen = new Set<number>();
        let tokens = 0;
        const rest: PendingActivation[] = [];
        for (const item of p.pending) {
            const n = item.input.tokens?.length ?? (item.input.hidden!.length / stage.nEmbd);
            // Only single-token steps share a batch: measured bit-exact for quantized weights, while
            // prompts batched together change llama.cpp's kernel grouping (and so the last bits).
            const fits = batch.length === 0 || (stage.batchesExactly && n === 1 && tokens === batch.length && !seen.has(item.msg.seqId) && tokens + n <= stage.batchSize);
            if (fits) {
                // A batch shared by several sequences must not fail for one bad step, so single-token
                // steps are checked here. A prompt always runs alone: forwardBatch checks it (once).
                if (n === 1) {
                    try {
                        stage.validate(item.input);
                    } catch (e) {
                        item.reject(grpc.status.INVALID_ARGUMENT, (e as Error).message);
                        continue;
                    }
                }
                batch.push(item);
                tokens += n;
            } else {
                rest.push(item);
            }
            seen.add(item.msg.seqId); // a later step of a sequence may not overtake an earlier one
        }
        p.pending = rest;
        if (batch.length === 0) { p.running = false; return; }
        p.running = true;
        p.batches++;
        p.batchedSequences += batch.length;
        for (const item of batch) if (item.msg.sampler != null && stage.last) void stage.setSampler(item.msg.seqId, item.msg.sampler).catch(() => {});
        stage.forwardBatch(batch.map((b) => b.input)).then((outs) => {
            outs.forEach((out, k) => this.route(p, batch[k]!.msg, out));
        }).catch((e: Error) => {
            for (const item of batch) {
                if (e instanceof StageInputError) item.reject(grpc.status.INVALID_ARGUMENT, e.message);
                else this.relayUpstream(p, { pipelineId: p.pipelineId, seqId: item.msg.seqId, step: item.msg.step, node: this.o.name, message: e.message, grpcCode: grpc.status.INTERNAL });
            }
        }).finally(() => this.pump(p));
    }

    /** Sends a stage's output on: a token to the coordinator, or hidden states to the next stage. */
    private route(p: HostedStage, msg: ActivationMsg, out: ForwardOutput) {
        const stageMs = [...msg.stageMs, out.computeMs];
        if (p.stage.last) {
            if (!msg.sample) return;
            const ev: TokenEventMsg = { seqId: msg.seqId, step: msg.step, token: out.token!, stageMs, sentAtUs: msg.sentAtUs };
            for (const s of p.subscribers) s.write(ev);
            return;
        }
        const next = p.next!;
        if (next.broken != null) {
            this.relayUpstream(p, { pipelineId: p.pipelineId, seqId: msg.seqId, step: msg.step, node: next.address, message: `the next stage (${next.address}) is unreachable: ${next.broken}`, grpcCode: grpc.status.UNAVAILABLE });
            return;
        }
        next.stream.write({
            ...msg, tokens: [], hidden: encodeHidden(this.addon, out.hidden!, msg.dtype === "F16" ? "f16" : "f32"),
            dtype: msg.dtype === "F16" ? "F16" : "F32", stageMs
        });
    }

    private subscribe(call: grpc.ServerWritableStream<{ pipelineId: string }, TokenEventMsg>) {
        try {
            if (this.sessions.check(call.metadata) == null) throw new Fail(grpc.status.UNAUTHENTICATED, "Subscribe: join the cluster first");
            if ((call.request as unknown) instanceof InvalidMessage) throw new Fail(grpc.status.INVALID_ARGUMENT, (call.request as unknown as InvalidMessage).reason);
            const p = this.pipeline(call.request.pipelineId);
            if (!p.stage.last) throw new Fail(grpc.status.FAILED_PRECONDITION, "this node does not hold the last stage of that pipeline");
            p.subscribers.add(call);
            call.sendMetadata(new grpc.Metadata()); // tells the coordinator the subscription is in place
            const drop = () => p.subscribers.delete(call);
            call.on("cancelled", drop);
            call.on("error", drop);
            call.on("close", drop);
        } catch (e) {
            call.emit("error", { code: e instanceof Fail ? e.code : grpc.status.INTERNAL, details: `node '${this.o.name}': ${(e as Error).message}` });
        }
    }
}
