// The cost model of placement (pure, no I/O): what a stage needs in RAM and in GPU memory and how
// long it takes per token on a member, and what a hop between two members costs. The planner
// (planner.ts) searches over it; nothing else decides whether a plan fits or how fast it is.
//
// A stage is a member, a contiguous range of layers [start, end) and `g`, the stage's
// n_gpu_layers exactly as llama.cpp reads it (StageOptions.gpuLayers): the last min(g, n) of the
// stage's n layers go on the GPU with their KV cache, and on the model's last stage g = n + 1 puts
// the output head on the GPU too (llama.cpp offloads the output only when every layer is offloaded).
//
// Memory of a stage, in the terms of estimateStageMemory (memory.ts), which it equals for a stage
// on the CPU alone: weights (its layers, the globals, the input table on the first stage, the head
// on the last) + f16 KV of contextSize × maxSequences cells per layer + work (48 MiB, llama.cpp's
// compute buffers, the logits). Split over devices:
//   RAM:  CPU layers and their KV, globals, the input table (always in RAM), the head unless it is
//         on the GPU, the logits buffer, 48 MiB, and the compute buffers unless everything is on the GPU;
//   VRAM: GPU layers and their KV, the head when on the GPU, and (once any layer is there) a set of
//         compute buffers and 48 MiB.
// A unified member (Apple silicon) has one pool: RAM + VRAM must fit the RAM pool, and VRAM must
// also fit the GPU's own limit (Metal's recommended working set).
//
// Time of a stage per token of one chat: the member's fixed overhead + the bytes each device reads
// (layer weights, the KV of the context the token attends over, the head) × that device's ms per
// byte. A device's speed is measured (a speed profile: decode ms per layer for a layer of known
// bytes, scaled by bytes) or derived from its memory bandwidth (bytes / (bandwidth × efficiency)).
// Decode of one token is memory-bound, so bytes are the measure of work. A mixture-of-experts layer
// holds every expert in memory but a token reads only the experts it is routed to: its memory is
// all its bytes (ModelShape.layerBytes), its time its active bytes (ModelShape.layerActiveBytes:
// the other tensors + expert bytes × expert_used_count / expert_count).
//
// A plan (members in order, each with one stage) costs, for one chat, the sum of its stages and
// its hops: member i sends nEmbd × activation bytes to member i + 1 (link latency + bytes /
// bandwidth), and with two stages or more the last sends the sampled token back to the first
// (the coordinator is taken to run on the first member). With many chats in flight the pipeline
// runs at the pace of its slowest stage including the hop it sends: tokens/s = 1000 / max over
// stages of (stage ms + outgoing hop ms). That ignores batching (which only helps).
import type { LlamaBackend } from "../cluster/speed-fingerprint.ts";
import type { SpeedProfile } from "../cluster/speed-profile.ts";
import { STAGE_OPTION_DEFAULTS } from "../stage/options.ts";
import { activeLayerBytes, kvBytesPerTokenOfLayer, type ModelShape } from "./model-shape.ts";

export type Backend = LlamaBackend;
export type PlanObjective = "latency" | "throughput";

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** Every knob of the cost model and the planner, with its default in PLAN_OPTION_DEFAULTS. */
export interface PlanOptions {
    /** "latency": least ms per token for one chat; "throughput": most tokens/s over many chats (the slowest stage with its hop). Defaults to "latency". */
    objective: PlanObjective;
    /** KV cells per sequence. Defaults to StageOptions' 4096. */
    contextSize: number;
    /** Sequences each stage holds a KV cache for. Defaults to StageOptions' 4. */
    maxSequences: number;
    /** Tokens per step (sizes the compute buffers). Defaults to StageOptions' 512. */
    batchSize: number;
    /** Bytes per value of the hidden states sent between stages: 4 (f32) or 2 (f16). Defaults to 4, as `hearth generate`. */
    activationBytesPerValue: number;
    /** Each device keeps max(marginFraction × its total, marginMinBytes) of its memory free. Defaults to 0.10. */
    marginFraction: number;
    /** Defaults to 1.5 GiB. */
    marginMinBytes: number;
    /** Share of a memory bandwidth that decode reaches (speeds given as bandwidth only; measured speeds are taken as they are). Defaults to 0.75. */
    bandwidthEfficiency: number;
    /** Context a decoded token attends over, as a share of contextSize (the KV bytes it reads). Defaults to 0.5: a chat half way through its context. */
    decodeContextFraction: number;
    /** Fixed ms per token of a stage on a member that gives none (graph launch, sampling, the RPC's own cost). Defaults to 0.5. */
    overheadMsPerToken: number;
    /** Bytes of the sampled token the last stage sends back to the first. Defaults to 8. */
    returnBytesPerToken: number;
    /** Up to this many members the planner tries every order (exact); above, a heuristic (see planner.ts). Defaults to 5. */
    exactMaxMembers: number;
}

export const PLAN_OPTION_DEFAULTS: Readonly<PlanOptions> = Object.freeze({
    objective: "latency",
    contextSize: STAGE_OPTION_DEFAULTS.contextSize,
    maxSequences: STAGE_OPTION_DEFAULTS.maxSequences,
    batchSize: STAGE_OPTION_DEFAULTS.batchSize,
    activationBytesPerValue: 4,
    marginFraction: 0.10,
    marginMinBytes: 1.5 * GiB,
    bandwidthEfficiency: 0.75,
    decodeContextFraction: 0.5,
    overheadMsPerToken: 0.5,
    returnBytesPerToken: 8,
    exactMaxMembers: 5
});

/** Fills in the defaults and checks every value (RangeError naming the option). */
export function resolvePlanOptions(options: Partial<PlanOptions> = {}): PlanOptions {
    const out: PlanOptions = { ...PLAN_OPTION_DEFAULTS };
    for (const [key, value] of Object.entries(options) as Array<[keyof PlanOptions, unknown]>) {
        if (value === undefined) continue;
        if (!(key in PLAN_OPTION_DEFAULTS)) throw new RangeError(`unknown plan option '${key}'`);
        if (key === "objective") {
            if (value !== "latency" && value !== "throughput") throw new RangeError(`objective must be "latency" or "throughput" (got ${String(value)})`);
            out.objective = value;
            continue;
        }
        if (typeof value !== "number" || !Number.isFinite(value)) throw new RangeError(`plan option ${key} must be a number (got ${String(value)})`);
        (out as unknown as Record<string, number>)[key] = value;
    }
    const integer = (key: keyof PlanOptions, min: number) => {
        const v = out[key] as number;
        if (!Number.isInteger(v) || v < min) throw new RangeError(`plan option ${key} must be an integer of at least ${min} (got ${v})`);
    };
    integer("contextSize", 1); integer("maxSequences", 1); integer("batchSize", 1); integer("exactMaxMembers", 1);
    const within = (key: keyof PlanOptions, lo: number, hi: number, loOpen = false) => {
        const v = out[key] as number;
        if (v > hi || (loOpen ? v <= lo : v < lo)) throw new RangeError(`plan option ${key} must be ${loOpen ? "above" : "at least"} ${lo} and at most ${hi} (got ${v})`);
    };
    within("activationBytesPerValue", 0, 8, true);
    within("marginFraction", 0, 0.9);
    within("marginMinBytes", 0, Number.MAX_SAFE_INTEGER);
    within("bandwidthEfficiency", 0, 1, true);
    within("decodeContextFraction", 0, 1);
    within("overheadMsPerToken", 0, 1e6);
    within("returnBytesPerToken", 0, 1e9);
    return out;
}

// ---- members ---------------------------------------------------------------------------------

/** How fast a device runs decode: from its memory bandwidth, or measured on a layer of known bytes. */
export type DeviceSpeed =
    | { kind: "bandwidth"; bandwidthGBs: number }
    | { kind: "measured"; decodeMsPerLayer: number; layerBytes: number };

export interface MemoryPool { totalBytes: number; freeBytes: number }

export interface GpuMemory extends MemoryPool {
    /** the GPU's memory is the RAM (Apple silicon): totalBytes/freeBytes are then the GPU's working-set limit inside the RAM */
    unified: boolean;
}

/** One machine that may take a stage. */
export interface Member {
    name: string;
    backend: Backend;
    ram: MemoryPool;
    /** null: no GPU that llama.cpp uses */
    gpu: GpuMemory | null;
    cpuSpeed: DeviceSpeed;
    /** null without a GPU */
    gpuSpeed: DeviceSpeed | null;
    /** fixed ms per token of a stage here; defaults to PlanOptions.overheadMsPerToken */
    overheadMsPerToken?: number;
    /** the RAM's peak bandwidth and the GPU memory's (GB/s), when known: only for the bandwidth bound */
    memoryBandwidthGBs?: number;
    gpuBandwidthGBs?: number;
}

/** The speed of the device a profile was measured on: its largest layer shape, scaled by bytes. */
export function deviceSpeedFromProfile(profile: Pick<SpeedProfile, "layers">): DeviceSpeed {
    const largest = profile.layers.reduce<SpeedProfile["layers"][number] | null>((best, l) => (best === null || l.layerBytes > best.layerBytes ? l : best), null);
    if (largest === null || !(largest.decodeMsPerToken > 0) || !(largest.layerBytes > 0)) throw new RangeError("the speed profile has no measured layer");
    return { kind: "measured", decodeMsPerLayer: largest.decodeMsPerToken, layerBytes: largest.layerBytes };
}

/** ms per byte read per token on this device. */
export function deviceMsPerByte(speed: DeviceSpeed, options: Pick<PlanOptions, "bandwidthEfficiency">): number {
    return speed.kind === "bandwidth"
        ? 1000 / (speed.bandwidthGBs * 1e9 * options.bandwidthEfficiency)
        : speed.decodeMsPerLayer / speed.layerBytes;
}

/** What a stage may use on this member: free memory less the margin, per pool. */
export interface UsableMemory {
    /** RAM (for a unified member: the whole pool, GPU part included) */
    ramBytes: number;
    /** GPU memory (0 without a GPU; for a unified member: the GPU's working-set limit) */
    gpuBytes: number;
    unified: boolean;
}

/** The bytes a device keeps free: max(marginFraction × total, marginMinBytes). */
export function marginBytes(pool: MemoryPool, options: Pick<PlanOptions, "marginFraction" | "marginMinBytes">): number {
    return Math.max(options.marginFraction * pool.totalBytes, options.marginMinBytes);
}

export function usableMemory(member: Member, options: Pick<PlanOptions, "marginFraction" | "marginMinBytes">): UsableMemory {
    const usable = (pool: MemoryPool) => Math.max(0, Math.floor(Math.min(pool.freeBytes, pool.totalBytes) - marginBytes(pool, options)));
    return { ramBytes: usable(member.ram), gpuBytes: member.gpu === null ? 0 : usable(member.gpu), unified: member.gpu?.unified ?? false };
}

// ---- links -----------------------------------------------------------------------------------

export interface Link {
    latencyMs: number;
    /** MB/s (10^6 bytes per second) */
    bandwidthMBs: number;
}

export interface Links {
    defaultLink: Link;
    /** by linkKey(a, b): links are symmetric */
    pairs: ReadonlyMap<string, Link>;
}

/** A home LAN's link when nothing better is known: 2 ms, 100 MB/s. */
export const DEFAULT_LINK: Readonly<Link> = Object.freeze({ latencyMs: 2, bandwidthMBs: 100 });

export function linkKey(a: string, b: string): string {
    return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
}

export function makeLinks(defaultLink: Link = DEFAULT_LINK, pairs: ReadonlyArray<{ between: readonly [string, string]; link: Link }> = []): Links {
    return { defaultLink, pairs: new Map(pairs.map((p) => [linkKey(p.between[0], p.between[1]), p.link])) };
}

export function linkBetween(links: Links, a: string, b: string): Link {
    return links.pairs.get(linkKey(a, b)) ?? links.defaultLink;
}

/** ms to send `bytes` over a link. */
export function hopMs(link: Link, bytes: number): number {
    return link.latencyMs + (bytes / (link.bandwidthMBs * 1e6)) * 1000;
}

// ---- stages ----------------------------------------------------------------------------------

/** llama.cpp's fixed allocations per device beyond the compute buffers (as memory.ts). */
export const HOST_FIXED_BYTES = 48 * MiB;
export const GPU_FIXED_BYTES = 48 * MiB;

/** llama.cpp's compute buffers for one ubatch, as estimateStageMemory (memory.ts) reckons them. */
export function computeBufferBytes(shape: Pick<ModelShape, "nEmbd" | "nFf" | "nHead">, options: Pick<PlanOptions, "batchSize" | "contextSize">): number {
    const batch = options.batchSize;
    return batch * (shape.nEmbd * 8 + shape.nFf * 3) * 4 + batch * Math.min(options.contextSize, 1 << 16) * shape.nHead * 4;
}

/** One stage's figures, for explanations. */
export interface StageEstimate {
    start: number;
    end: number;
    /** the stage's StageOptions.gpuLayers (n_gpu_layers) */
    gpuLayersOption: number;
    /** layers on the GPU and on the CPU */
    gpuLayers: number;
    cpuLayers: number;
    outputOnGpu: boolean;
    first: boolean;
    last: boolean;
    ramBytes: number;
    vramBytes: number;
    weightsBytes: number;
    /** of the weights, those on the GPU */
    gpuWeightsBytes: number;
    /** of the weights, those one token reads: its layers' active bytes and the head */
    activeWeightsBytes: number;
    kvBytes: number;
    workBytes: number;
    msPerToken: number;
}

interface MemberCost {
    ramUsable: number;
    gpuUsable: number;
    unified: boolean;
    hasGpu: boolean;
    cpuMsPerByte: number;
    gpuMsPerByte: number;
    overheadMs: number;
}

/**
 * The cost model for one model, cluster and options, precomputed (prefix sums over the layers)
 * so that the planner can ask it about every (member, range, gpu layers) quickly. Members are
 * named by their index in `members`.
 */
export class StageCosts {
    readonly nLayer: number;
    readonly options: PlanOptions;
    readonly usable: readonly UsableMemory[];
    /** ms per token of the hop from member a to member b carrying activations: fwdHop[a × M + b] */
    readonly fwdHop: Float64Array;
    /** … and carrying the sampled token back from the last stage to the first */
    readonly returnHop: Float64Array;
    private readonly weightPrefix: Float64Array;
    private readonly kvPrefix: Float64Array;
    private readonly readPrefix: Float64Array;
    private readonly activePrefix: Float64Array;
    private readonly memberCosts: MemberCost[];
    private readonly globals: number;
    private readonly input: number;
    private readonly head: number;
    private readonly compute: number;
    private readonly logits: number;
    private readonly nonLastOutputs: number;

    constructor(readonly model: ModelShape, readonly members: readonly Member[], readonly links: Links, options: PlanOptions) {
        this.options = options;
        const L = model.nLayer;
        this.nLayer = L;
        const cells = options.contextSize * options.maxSequences;
        const readTokens = options.contextSize * options.decodeContextFraction;
        this.weightPrefix = new Float64Array(L + 1);
        this.kvPrefix = new Float64Array(L + 1);
        this.readPrefix = new Float64Array(L + 1);
        this.activePrefix = new Float64Array(L + 1);
        for (let l = 0; l < L; l++) {
            const w = model.layerBytes[l] ?? 0;
            const active = activeLayerBytes(model, l);
            const kv = kvBytesPerTokenOfLayer(model, l);
            this.weightPrefix[l + 1] = this.weightPrefix[l]! + w;
            this.activePrefix[l + 1] = this.activePrefix[l]! + active;
            this.kvPrefix[l + 1] = this.kvPrefix[l]! + kv * cells;
            this.readPrefix[l + 1] = this.readPrefix[l]! + active + kv * readTokens;
        }
        this.globals = model.globalBytes + model.stageFileOverheadBytes;
        this.input = model.inputEmbeddingBytes;
        this.head = model.outputHeadBytes;
        this.compute = computeBufferBytes(model, options);
        this.logits = Math.max(model.nVocab, 1) * 4 * options.maxSequences;
        this.nonLastOutputs = 4 * options.maxSequences;
        this.usable = members.map((m) => usableMemory(m, options));
        this.memberCosts = members.map((m, i) => {
            const cpu = deviceMsPerByte(m.cpuSpeed, options);
            const hasGpu = m.gpu !== null && m.gpuSpeed !== null;
            return {
                ramUsable: this.usable[i]!.ramBytes, gpuUsable: hasGpu ? this.usable[i]!.gpuBytes : 0, unified: this.usable[i]!.unified, hasGpu,
                cpuMsPerByte: cpu, gpuMsPerByte: hasGpu ? deviceMsPerByte(m.gpuSpeed!, options) : cpu,
                overheadMs: m.overheadMsPerToken ?? options.overheadMsPerToken
            };
        });
        const M = members.length;
        this.fwdHop = new Float64Array(M * M);
        this.returnHop = new Float64Array(M * M);
        const actBytes = model.nEmbd * options.activationBytesPerValue;
        for (let a = 0; a < M; a++) for (let b = 0; b < M; b++) {
            if (a === b) continue;
            const link = linkBetween(links, members[a]!.name, members[b]!.name);
            this.fwdHop[a * M + b] = hopMs(link, actBytes);
            this.returnHop[a * M + b] = hopMs(link, options.returnBytesPerToken);
        }
    }

    /** The largest meaningful n_gpu_layers of [start, end): its layers, and the head on the last stage. */
    maxGpuLayers(start: number, end: number): number {
        return end - start + (end === this.nLayer ? 1 : 0);
    }

    hasGpu(m: number): boolean { return this.memberCosts[m]!.hasGpu; }
    isUnified(m: number): boolean { return this.memberCosts[m]!.unified; }
    ramUsable(m: number): number { return this.memberCosts[m]!.ramUsable; }
    gpuUsable(m: number): number { return this.memberCosts[m]!.gpuUsable; }
    /** the faster of the member's devices, ms per byte */
    bestMsPerByte(m: number): number {
        const c = this.memberCosts[m]!;
        return c.hasGpu && c.gpuUsable > 0 ? Math.min(c.cpuMsPerByte, c.gpuMsPerByte) : c.cpuMsPerByte;
    }
    /** whether moving a layer from the CPU to the GPU makes the stage faster */
    gpuIsFaster(m: number): boolean {
        const c = this.memberCosts[m]!;
        return c.hasGpu && c.gpuMsPerByte <= c.cpuMsPerByte;
    }

    /** RAM of the stage [start, end) with n_gpu_layers g (for a unified member: the part off the GPU). */
    ramBytes(start: number, end: number, g: number): number {
        const n = end - start;
        const last = end === this.nLayer;
        const blocks = g < n ? g : n;
        const headOnGpu = last && g > n;
        const all = g >= n + (last ? 1 : 0);
        return this.weightPrefix[end - blocks]! - this.weightPrefix[start]! + this.kvPrefix[end - blocks]! - this.kvPrefix[start]! +
            this.globals + (start === 0 ? this.input : 0) + (last ? (headOnGpu ? 0 : this.head) + this.logits : this.nonLastOutputs) +
            HOST_FIXED_BYTES + (all ? 0 : this.compute);
    }

    /** GPU memory of the stage [start, end) with n_gpu_layers g. */
    vramBytes(start: number, end: number, g: number): number {
        if (g <= 0) return 0;
        const n = end - start;
        const blocks = g < n ? g : n;
        const headOnGpu = end === this.nLayer && g > n;
        return this.weightPrefix[end]! - this.weightPrefix[end - blocks]! + this.kvPrefix[end]! - this.kvPrefix[end - blocks]! +
            (headOnGpu ? this.head : 0) + this.compute + GPU_FIXED_BYTES;
    }

    /** Whether the stage fits member m, margins kept, on every device. */
    fits(m: number, start: number, end: number, g: number): boolean {
        const c = this.memberCosts[m]!;
        if (g > 0 && !c.hasGpu) return false;
        const vram = this.vramBytes(start, end, g);
        if (vram > c.gpuUsable) return false;
        const ram = this.ramBytes(start, end, g);
        return c.unified ? ram + vram <= c.ramUsable : ram <= c.ramUsable;
    }

    /** ms per token of one chat for the stage on member m (its compute; hops are apart). */
    msPerToken(m: number, start: number, end: number, g: number): number {
        const c = this.memberCosts[m]!;
        const n = end - start;
        const last = end === this.nLayer;
        const blocks = g < n ? g : n;
        const headOnGpu = last && g > n;
        const cpuBytes = this.readPrefix[end - blocks]! - this.readPrefix[start]! + (last && !headOnGpu ? this.head : 0);
        const gpuBytes = this.readPrefix[end]! - this.readPrefix[end - blocks]! + (headOnGpu ? this.head : 0);
        return c.overheadMs + cpuBytes * c.cpuMsPerByte + gpuBytes * c.gpuMsPerByte;
    }

    /** Everything about one stage, for explanations. */
    estimate(m: number, start: number, end: number, g: number): StageEstimate {
        const n = end - start;
        const last = end === this.nLayer;
        const first = start === 0;
        const blocks = Math.min(Math.max(g, 0), n);
        const outputOnGpu = last && g > n;
        const ramBytes = this.ramBytes(start, end, g);
        const vramBytes = this.vramBytes(start, end, g);
        const weightsBytes = this.weightPrefix[end]! - this.weightPrefix[start]! + this.globals + (first ? this.input : 0) + (last ? this.head : 0);
        const gpuWeightsBytes = this.weightPrefix[end]! - this.weightPrefix[end - blocks]! + (outputOnGpu ? this.head : 0);
        const activeWeightsBytes = this.activePrefix[end]! - this.activePrefix[start]! + (last ? this.head : 0);
        const kvBytes = this.kvPrefix[end]! - this.kvPrefix[start]!;
        return {
            start, end, gpuLayersOption: g, gpuLayers: blocks, cpuLayers: n - blocks, outputOnGpu, first, last,
            ramBytes, vramBytes, weightsBytes, gpuWeightsBytes, activeWeightsBytes, kvBytes, workBytes: ramBytes + vramBytes - weightsBytes - kvBytes,
            msPerToken: this.msPerToken(m, start, end, g)
        };
    }

    /** ms of the hop member a sends after its stage: activations to `next`, or (next === first) the token back to the first stage. */
    outgoingHopMs(a: number, next: number | null, isReturn: boolean): number {
        if (next === null || next === a) return 0;
        return (isReturn ? this.returnHop : this.fwdHop)[a * this.members.length + next]!;
    }
}

/** One stage of a candidate plan: member index, layers [start, end), n_gpu_layers. */
export interface StageChoice { member: number; start: number; end: number; gpuLayers: number }

export interface PlanCost {
    /** one chat: stages and hops */
    msPerToken: number;
    /** many chats: the slowest stage with the hop it sends */
    bottleneckMs: number;
    bottleneckIndex: number;
    stageMs: number[];
    /** the hop each stage sends (0 for a plan of one stage) */
    hopMs: number[];
}

/** The objective figures of a plan: the one definition the planner and its tests share. */
export function evaluateStages(costs: StageCosts, stages: readonly StageChoice[]): PlanCost {
    const stageMs = stages.map((s) => costs.msPerToken(s.member, s.start, s.end, s.gpuLayers));
    const hopMs = stages.map((s, i) => {
        if (stages.length === 1) return 0;
        const last = i === stages.length - 1;
        return costs.outgoingHopMs(s.member, last ? stages[0]!.member : stages[i + 1]!.member, last);
    });
    let msPerToken = 0;
    let bottleneckMs = -Infinity;
    let bottleneckIndex = 0;
    stages.forEach((_, i) => {
        msPerToken += stageMs[i]! + hopMs[i]!;
        if (stageMs[i]! + hopMs[i]! > bottleneckMs) { bottleneckMs = stageMs[i]! + hopMs[i]!; bottleneckIndex = i; }
    });
    return { msPerToken, bottleneckMs, bottleneckIndex, stageMs, hopMs };
}

/** The value the objective minimizes. */
export function objectiveValue(cost: PlanCost, objective: PlanObjective): number {
    return objective === "latency" ? cost.msPerToken : cost.bottleneckMs;
}
