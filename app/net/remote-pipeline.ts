// The coordinator's side of a distributed pipeline: places stages on nodes, sends them the stage
// files they lack, wires the ring, and runs generations as sequences through it.
import crypto from "node:crypto";
import fs from "node:fs";
import { GgufType, kvNumber, kvString, type GgufHeader } from "../gguf/format.ts";
import { arrayItems } from "../gguf/arrays.ts";
import { readGgufHeader } from "../gguf/reader.ts";
import { ensureStageFiles, modelHash, type HashProgress } from "../model/stage-cache.ts";
import type { SliceProgress, LayerRange } from "../stage/slice.ts";
import { modelLayerCount } from "../stage/slice.ts";
import { checkArchitectureSupported } from "../stage/architectures.ts";
import type { SamplerParams } from "../stage/runtime.ts";
import { formatBytes } from "../util/format.ts";
import { wireDType, type ActivationDType } from "./activations.ts";
import { NodeClient } from "./client.ts";
import { PROTOCOL_VERSION, type ActivationMsg, type NodeInfoMsg, type SamplerMsg, type StageErrorMsg, type TokenEventMsg } from "./proto.ts";

export interface StageRunOptions { contextSize: number; maxSequences: number; batchSize: number; threads: number; gpuLayers: number; flashAttention: boolean }

export interface TransferProgress { phase: "uploading"; node: string; bytesDone: number; bytesTotal: number }

export interface RemotePipelineOptions {
    modelPath: string;
    peers: string[];
    layers?: LayerRange[] | "auto";
    clusterKey: Buffer;
    dataDir: string;
    name?: string;
    dtype?: ActivationDType;
    stage?: Partial<StageRunOptions>;
    onProgress?: (p: SliceProgress | HashProgress | TransferProgress) => void;
}

export interface StageAssignment { node: string; address: string; range: LayerRange; bytesUploaded: number; requiredMemoryBytes: number }

export interface GenerationStats {
    promptTokens: number;
    generatedTokens: number;
    timeToFirstTokenMs: number;
    decodeTokensPerSecond: number;
    /** compute time per stage over the generation, ms */
    stageComputeMs: number[];
    /** per decode step: wall time minus the stages' compute, ms (network, queues, serialization) */
    overheadMsPerToken: number;
}

export interface RemoteGenerateOptions {
    promptTokens: readonly number[];
    maxTokens: number;
    sampler?: SamplerParams;
    isStop?: (token: number) => boolean;
    signal?: AbortSignal;
    onStats?: (s: GenerationStats) => void;
}

export class PipelineError extends Error {
    constructor(message: string, readonly node?: string) { super(message); this.name = "PipelineError"; }
}

function perLayerMax(h: GgufHeader, key: string): number {
    const v = h.kv.get(key);
    if (v == null) return 0;
    if (v.type === GgufType.ARRAY) return Math.max(...arrayItems(v).map(Number));
    return Number(v.value);
}

/** Weights + KV cache + a working margin for a stage, from the model's metadata. */
export function estimateStageMemory(h: GgufHeader, range: LayerRange, stageBytes: number, o: StageRunOptions): number {
    const arch = kvString(h, "general.architecture")!;
    const embd = kvNumber(h, `${arch}.embedding_length`) ?? 0;
    const heads = perLayerMax(h, `${arch}.attention.head_count`) || 1;
    const kvHeads = perLayerMax(h, `${arch}.attention.head_count_kv`) || heads;
    const headDim = kvNumber(h, `${arch}.attention.key_length`) ?? embd / heads;
    const kvBytes = (range.end - range.start) * o.contextSize * o.maxSequences * 2 * headDim * kvHeads * 2; // K and V, f16
    const work = 32 * 1024 * 1024 + o.batchSize * embd * 4 * 8;
    return stageBytes + kvBytes + work;
}

function autoRanges(total: number, nodes: NodeInfoMsg[]): LayerRange[] {
    const free = nodes.map((n) => Math.max(1, n.freeMemoryBytes));
    const sum = free.reduce((a, b) => a + b, 0);
    const ranges: LayerRange[] = [];
    let start = 0;
    for (let i = 0; i < nodes.length; i++) {
        const left = nodes.length - i - 1;
        const share = i === nodes.length - 1 ? total - start : Math.round((total * free[i]!) / sum);
        const end = Math.min(total - left, Math.max(start + 1, start + share));
        ranges.push({ start, end });
        start = end;
    }
    return ranges;
}

interface Waiter { step: number; resolve: (ev: TokenEventMsg) => void; reject: (e: Error) => void }

export class RemotePipeline {
    private forwardStream!: ReturnType<NodeClient["forward"]>;
    private tokenStream!: ReturnType<NodeClient["subscribe"]>;
    private readonly waiters = new Map<number, Waiter>();
    private readonly freeSeqs: number[] = [];
    private readonly seqQueue: Array<(seq: number) => void> = [];
    private broken: PipelineError | null = null;
    private nextStep = 1;

    private constructor(
        readonly pipelineId: string,
        readonly clients: NodeClient[],
        readonly stages: StageAssignment[],
        readonly options: StageRunOptions,
        private readonly dtype: ActivationDType
    ) {
        for (let s = 0; s < options.maxSequences; s++) this.freeSeqs.push(s);
    }

    static async connect(o: RemotePipelineOptions): Promise<RemotePipeline> {
        if (o.peers.length === 0) throw new Error("no peers given");
        const header = readGgufHeader(o.modelPath);
        const total = modelLayerCount(header, o.modelPath);
        if (o.peers.length > 1) checkArchitectureSupported(kvString(header, "general.architecture"), o.modelPath);
        const opts: StageRunOptions = { contextSize: 4096, maxSequences: 4, batchSize: 512, threads: 0, gpuLayers: 0, flashAttention: false, ...o.stage };
        const name = o.name ?? "coordinator";

        const clients = o.peers.map((p) => new NodeClient(p));
        try {
            const infos = await Promise.all(clients.map(async (c) => {
                try {
                    return await c.join(o.clusterKey, name);
                } catch (e) {
                    throw new PipelineError(`cannot join node at ${c.address}: ${(e as Error).message}`, c.address);
                }
            }));
            infos.forEach((info, i) => {
                if (info.protocol !== PROTOCOL_VERSION)
                    throw new PipelineError(`node '${info.name}' (${clients[i]!.address}) runs Hearth ${info.version} with protocol ${info.protocol}; ` +
                        `this machine speaks protocol ${PROTOCOL_VERSION} — update Hearth so that all machines run the same version`, info.name);
            });
            const ranges = o.layers == null || o.layers === "auto" ? autoRanges(total, infos) : o.layers;
            if (ranges.length !== clients.length) throw new Error(`${ranges.length} layer ranges for ${clients.length} peers: give one range per peer`);
            if (ranges.at(-1)!.end !== total) throw new Error(`the layer ranges end at ${ranges.at(-1)!.end} but the model has ${total} layers`);
            const modelSha = await modelHash(o.modelPath, o.dataDir, o.onProgress);
            const files = await ensureStageFiles(o.modelPath, ranges, o.dataDir, o.onProgress);
            const pipelineId = crypto.randomBytes(9).toString("base64url");
            const stages: StageAssignment[] = [];
            // Last stage first: each node connects to its successor while it prepares.
            for (let i = clients.length - 1; i >= 0; i--) {
                const c = clients[i]!;
                const file = files[i]!.path;
                const bytes = fs.statSync(file).size;
                const stageSha = await modelHash(file, o.dataDir);
                const required = estimateStageMemory(header, ranges[i]!, bytes, opts);
                const req = {
                    pipelineId, modelSha256: modelSha, layers: ranges[i]!, layerTotal: total, stageSha256: stageSha, stageBytes: bytes,
                    options: opts, nextAddress: i === clients.length - 1 ? "" : clients[i + 1]!.address, coordinatorName: name, requiredMemoryBytes: required
                };
                let reply = await c.prepareStage(req).catch((e: Error) => { throw new PipelineError(e.message.replace(/^\d+ [A-Z_]+: /, ""), c.name); });
                let uploaded = 0;
                if (reply.status === "NEED_UPLOAD") {
                    uploaded = await RemotePipeline.upload(c, file, bytes, modelSha, stageSha, ranges[i]!, reply.resumeOffset, o.onProgress);
                    reply = await c.prepareStage(req);
                }
                if (reply.status !== "READY") throw new PipelineError(`node '${c.name}' did not load its stage`, c.name);
                stages[i] = { node: c.name, address: c.address, range: ranges[i]!, bytesUploaded: uploaded, requiredMemoryBytes: required };
            }
            const p = new RemotePipeline(pipelineId, clients, stages, opts, o.dtype ?? "f32");
            await p.open();
            return p;
        } catch (e) {
            for (const c of clients) c.close();
            throw e;
        }
    }

    private static async upload(c: NodeClient, file: string, bytes: number, modelSha: string, stageSha: string, range: LayerRange,
        from: number, onProgress?: RemotePipelineOptions["onProgress"]): Promise<number> {
        const { stream, done } = c.upload();
        const fh = await fs.promises.open(file, "r");
        const chunk = Buffer.alloc(1024 * 1024);
        let offset = from;
        let first = true;
        try {
            while (offset < bytes) {
                const { bytesRead } = await fh.read(chunk, 0, Math.min(chunk.length, bytes - offset), offset);
                const msg = { header: first ? { modelSha256: modelSha, layers: range, stageSha256: stageSha, stageBytes: bytes } : null, offset, data: Buffer.from(chunk.subarray(0, bytesRead)) };
                first = false;
                if (!stream.write(msg)) await new Promise((r) => stream.once("drain", r));
                offset += bytesRead;
                onProgress?.({ phase: "uploading", node: c.name, bytesDone: offset, bytesTotal: bytes });
            }
            stream.end();
            const r = await done;
            if (!r.complete) throw new PipelineError(`node '${c.name}' did not receive the whole stage file`, c.name);
            return r.bytesReceived;
        } catch (e) {
            stream.cancel();
            throw new PipelineError(`sending layers ${range.start}-${range.end} (${formatBytes(bytes)}) to node '${c.name}' failed: ${(e as Error).message}`, c.name);
        } finally {
            await fh.close();
        }
    }

    private fail(e: PipelineError) {
        if (this.broken == null) this.broken = e;
        for (const w of this.waiters.values()) w.reject(e);
        this.waiters.clear();
    }

    private async open() {
        const first = this.clients[0]!;
        const last = this.clients.at(-1)!;
        this.tokenStream = last.subscribe(this.pipelineId);
        this.tokenStream.on("data", (ev: TokenEventMsg) => {
            const w = this.waiters.get(ev.seqId);
            if (w != null && w.step === ev.step) { this.waiters.delete(ev.seqId); w.resolve(ev); }
        });
        this.tokenStream.on("error", (e: Error) => this.fail(new PipelineError(`node '${last.name}' (${last.address}, last stage) failed: ${e.message}`, last.name)));
        this.forwardStream = first.forward();
        this.forwardStream.on("data", (ev: { error?: StageErrorMsg }) => {
            const err = ev.error;
            if (err == null) return;
            const e = new PipelineError(`node '${this.nodeName(err.node)}' failed: ${err.message}`, this.nodeName(err.node));
            const w = this.waiters.get(err.seqId);
            if (err.step !== 0 && w != null && w.step === err.step) { this.waiters.delete(err.seqId); w.reject(e); } else this.fail(e);
        });
        this.forwardStream.on("error", (e: Error) => this.fail(new PipelineError(`node '${first.name}' (${first.address}, first stage) failed: ${e.message}`, first.name)));
        this.forwardStream.on("end", () => this.fail(new PipelineError(`node '${first.name}' closed the activation stream`, first.name)));
        // The subscription must be in place before any token is produced.
        await new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => reject(new PipelineError(`node '${last.name}' did not accept the token subscription within 10 s`, last.name)), 10000);
            this.tokenStream.once("metadata", () => { clearTimeout(timer); resolve(); });
            this.tokenStream.once("error", (e) => { clearTimeout(timer); reject(e); });
        });
    }

    private nodeName(addressOrName: string): string {
        return this.clients.find((c) => c.address === addressOrName || c.name === addressOrName)?.name ?? addressOrName;
    }

    private acquireSeq(): Promise<number> {
        const s = this.freeSeqs.shift();
        if (s != null) return Promise.resolve(s);
        return new Promise((resolve) => this.seqQueue.push(resolve));
    }

    private releaseSeq(s: number) {
        const next = this.seqQueue.shift();
        if (next != null) next(s); else this.freeSeqs.push(s);
    }

    private step(msg: Omit<ActivationMsg, "step" | "stageMs" | "sentAtUs" | "pipelineId" | "hidden" | "dtype">, timeoutMs: number): Promise<TokenEventMsg> | null {
        if (this.broken) return Promise.reject(this.broken);
        const step = this.nextStep++;
        const act: ActivationMsg = { ...msg, pipelineId: this.pipelineId, hidden: Buffer.alloc(0), dtype: wireDType(this.dtype), step, stageMs: [], sentAtUs: Math.round(performance.now() * 1000) };
        if (!msg.sample) { this.forwardStream.write(act); return null; }
        return new Promise<TokenEventMsg>((resolve, reject) => {
            const timer = setTimeout(() => {
                this.waiters.delete(msg.seqId);
                reject(new PipelineError(`no token for sequence ${msg.seqId} after ${timeoutMs / 1000} s: a node is stuck (${this.clients.map((c) => c.name).join(", ")})`));
            }, timeoutMs);
            this.waiters.set(msg.seqId, {
                step,
                resolve: (ev) => { clearTimeout(timer); resolve(ev); },
                reject: (e) => { clearTimeout(timer); reject(e); }
            });
            this.forwardStream.write(act);
        });
    }

    async *generate(o: RemoteGenerateOptions): AsyncGenerator<number, void, void> {
        if (this.broken) throw this.broken;
        if (o.promptTokens.length === 0) throw new Error("the prompt has no tokens");
        if (o.promptTokens.length + o.maxTokens > this.options.contextSize)
            throw new Error(`the prompt (${o.promptTokens.length} tokens) and ${o.maxTokens} new tokens exceed the context size ${this.options.contextSize}`);
        const seqId = await this.acquireSeq();
        const s = o.sampler ?? {};
        const sampler: SamplerMsg = {
            temperature: s.temperature ?? 0, topK: s.topK ?? 0, topP: s.topP ?? 1, minP: s.minP ?? 0, repeatPenalty: s.repeatPenalty ?? 1,
            repeatLastN: s.repeatLastN ?? 64, frequencyPenalty: s.frequencyPenalty ?? 0, presencePenalty: s.presencePenalty ?? 0, seed: s.seed ?? 0
        };
        const stageMs = this.stages.map(() => 0);
        let overheadMs = 0;
        let generated = 0;
        let tFirst = 0;
        const t0 = performance.now();
        const timeout = 60000;
        try {
            const prompt = [...o.promptTokens];
            let pos = 0;
            let ev: TokenEventMsg | null = null;
            for (let off = 0; off < prompt.length; off += this.options.batchSize) {
                const tokens = prompt.slice(off, off + this.options.batchSize);
                const lastChunk = off + tokens.length === prompt.length;
                const p = this.step({ seqId, pos, nTokens: tokens.length, tokens, sample: lastChunk, sampler: off === 0 ? sampler : null, accept: lastChunk ? prompt : [] }, timeout);
                pos += tokens.length;
                if (p != null) ev = await p;
            }
            while (ev != null) {
                generated++;
                if (generated === 1) tFirst = performance.now();
                ev.stageMs.forEach((ms, i) => { stageMs[i]! += ms; });
                yield ev.token;
                if (generated >= o.maxTokens || o.isStop?.(ev.token) || o.signal?.aborted) break;
                const tStep = performance.now();
                ev = await this.step({ seqId, pos, nTokens: 1, tokens: [ev.token], sample: true, sampler: null, accept: [] }, timeout);
                overheadMs += performance.now() - tStep - ev!.stageMs.reduce((a, b) => a + b, 0);
                pos++;
            }
        } finally {
            const tEnd = performance.now();
            o.onStats?.({
                promptTokens: o.promptTokens.length, generatedTokens: generated, timeToFirstTokenMs: tFirst > 0 ? tFirst - t0 : 0,
                decodeTokensPerSecond: generated > 1 ? (generated - 1) / ((tEnd - tFirst) / 1000) : 0, stageComputeMs: stageMs,
                overheadMsPerToken: generated > 1 ? overheadMs / (generated - 1) : 0
            });
            if (this.broken == null) {
                await Promise.all(this.clients.map((c) => c.releaseSequence(this.pipelineId, seqId).catch(() => {})));
                this.releaseSeq(seqId);
            }
        }
    }

    async nodeInfos(): Promise<NodeInfoMsg[]> { return Promise.all(this.clients.map((c) => c.getInfo())); }

    async close(): Promise<void> {
        this.broken ??= new PipelineError("the pipeline was closed");
        this.forwardStream?.end();
        this.tokenStream?.cancel();
        await Promise.all(this.clients.map((c) => c.closePipeline(this.pipelineId).catch(() => {})));
        for (const c of this.clients) c.close();
    }
}
