// How fast this machine runs a decoder layer: milliseconds per token per layer, one token at a time
// (decode) and in a batch (prefill), for a few standard layer shapes, with each layer's bytes so
// that placement can extrapolate to other models by size. Each shape is a synthetic middle stage
// (hidden states in and out, no vocabulary head) run by StageRuntime on this machine's backend
// with every core. The stage has as many layers as it takes to outgrow the CPU's last-level cache
// (one layer of a 1B model is 34 MB; some server CPUs have 500 MB of L3, which would time cache
// instead of memory), and its time is divided by its layers. llama.cpp computes off the JS
// thread, so measuring keeps the event loop free. The profile is cached in the data folder under a fingerprint of the hardware
// and the llama.cpp build, and measured again when either changes.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import si from "systeminformation";
import { StageRuntime } from "../stage/runtime.ts";
import { effectiveThreads } from "../stage/options.ts";
import { writeFileAtomic } from "../util/atomic-file.ts";
import {
    SPEED_PROFILE_FORMAT, readSpeedBuild, readSpeedHardware, speedFingerprint,
    type LlamaBackend, type SpeedBuild, type SpeedHardware
} from "./speed-fingerprint.ts";
import { checkSpeedLayerShape, speedLayerBytes, writeSpeedLayerStage, type SpeedLayerShape } from "./speed-layer-stage.ts";

export type { SpeedLayerShape } from "./speed-layer-stage.ts";

/** A llama-3.2-1B-like layer and a llama-3.1-8B-like layer, in q4_0. */
export const DEFAULT_SPEED_SHAPES: readonly SpeedLayerShape[] = Object.freeze([
    { name: "1b", embd: 2048, ff: 8192, heads: 32, kvHeads: 8, type: "q4_0" },
    { name: "8b", embd: 4096, ff: 14336, heads: 32, kvHeads: 8, type: "q4_0" }
]);

export interface LayerSpeed {
    shape: SpeedLayerShape;
    /** bytes of one layer of this shape */
    layerBytes: number;
    /** layers of the timed stage (its times are divided by them) */
    stageLayers: number;
    /** one token at a time, after `prefillTokens` of context: median over the decode steps */
    decodeMsPerToken: number;
    /** a batch of `prefillTokens`, divided by its tokens: median over the prefill runs */
    prefillMsPerToken: number;
    prefillTokens: number;
    decodeSteps: number;
    prefillRuns: number;
}

export interface SpeedProfile {
    format: number;
    fingerprint: string;
    /** ISO time of the measurement */
    measuredAt: string;
    backend: LlamaBackend;
    /** CPU threads llama.cpp used */
    threads: number;
    /** whether the layer ran on the GPU */
    gpu: boolean;
    layers: LayerSpeed[];
    /** wall time of the whole measurement, files included */
    measureMs: number;
}

export type SpeedProgress =
    | { phase: "writing"; shape: string }
    | { phase: "measuring"; shape: string }
    | { phase: "measured"; speed: LayerSpeed };

export interface SpeedMeasureOptions {
    /** Layer shapes to time. Defaults to DEFAULT_SPEED_SHAPES. */
    shapes?: readonly SpeedLayerShape[];
    /** Tokens of the prefill batch. Defaults to 64. */
    prefillTokens?: number;
    /** Most single-token steps timed per shape. Defaults to 8. */
    decodeSteps?: number;
    /** Most prefill batches timed per shape. Defaults to 2. */
    prefillRuns?: number;
    /** Time per shape, after its warm-up, after which no more steps are started (at least 3 decode steps and 1 prefill always run). Defaults to 1000 ms. */
    budgetMsPerShape?: number;
    /**
     * The timed stage gets layers until its weights reach this many bytes (at most 64 layers), so
     * that they do not stay in the CPU's cache between tokens. Defaults to 1.25 × the L3 cache
     * (systeminformation cpuCache), at least 256 MiB; on a GPU to 256 MiB.
     */
    minStageBytes?: number;
    /** CPU threads; 0: every core. Defaults to 0. */
    threads?: number;
    /** Run the layer on the GPU when llama.cpp has a GPU backend. Defaults to true. */
    useGpu?: boolean;
    /** Folder for the temporary stage files (a fresh subfolder, removed afterwards). Defaults to os.tmpdir(). */
    tempDir?: string;
    /** The hardware to record; defaults to this machine's (readSpeedHardware). */
    hardware?: SpeedHardware;
    /** The llama.cpp build to record; defaults to the installed one (readSpeedBuild). */
    build?: SpeedBuild;
    signal?: AbortSignal;
    onProgress?: (progress: SpeedProgress) => void;
}

function median(values: readonly number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
    const v = value ?? fallback;
    if (!Number.isInteger(v) || v <= 0) throw new RangeError(`speed option ${name} must be a positive integer (got ${v})`);
    return v;
}

/** The fingerprint a profile gets: hardware, build and what was measured. */
export function speedProfileFingerprint(hardware: SpeedHardware, build: SpeedBuild, shapes: readonly SpeedLayerShape[], prefillTokens: number): string {
    return speedFingerprint(hardware, build, { shapes, prefillTokens });
}

function deterministicHidden(n: number): Float32Array {
    const out = new Float32Array(n);
    let s = 0x9e3779b9;
    for (let i = 0; i < n; i++) { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; out[i] = ((s >>> 0) / 4294967296 - 0.5) * 2; }
    return out;
}

const MAX_STAGE_LAYERS = 64;

/** Layers a timed stage needs to hold `minStageBytes` of weights: 1 to 64. */
export function speedStageLayers(layerBytes: number, minStageBytes: number): number {
    return Math.min(MAX_STAGE_LAYERS, Math.max(1, Math.ceil(minStageBytes / layerBytes)));
}

/** GPU caches are far smaller (tens of MB of L2), and GPU memory is scarcer: 256 MiB is enough. */
const GPU_MIN_STAGE_BYTES = 256 * 1024 * 1024;

/** 1.25 × the L3 cache, at least 256 MiB. */
async function defaultMinStageBytes(): Promise<number> {
    const l3 = await si.cpuCache().then((c) => c.l3, () => 0);
    return Math.max(256 * 1024 * 1024, Math.ceil(1.25 * (Number.isFinite(l3) ? l3 : 0)));
}

async function timeLayer(file: string, shape: SpeedLayerShape, layerBytes: number, stageLayers: number, o: {
    threads: number; gpuLayers: number; prefillTokens: number; decodeSteps: number; prefillRuns: number; budgetMs: number; signal?: AbortSignal;
}): Promise<LayerSpeed> {
    const stage = await StageRuntime.load(file, {
        contextSize: Math.max(256, o.prefillTokens + o.decodeSteps + 8), batchSize: o.prefillTokens, maxSequences: 2,
        threads: o.threads, gpuLayers: o.gpuLayers
    });
    try {
        const batch = deterministicHidden(o.prefillTokens * shape.embd);
        // Warm-up: pages the weights in and fills sequence 0's cache for the decode steps.
        await stage.forward({ seqId: 0, pos: 0, hidden: batch });
        const started = performance.now();
        const overBudget = () => performance.now() - started > o.budgetMs;
        const prefill: number[] = [];
        for (let r = 0; r < o.prefillRuns && (r === 0 || !overBudget()); r++) {
            o.signal?.throwIfAborted();
            await stage.removeSequence(1);
            const out = await stage.forward({ seqId: 1, pos: 0, hidden: batch });
            prefill.push(out.computeMs / o.prefillTokens / stageLayers);
        }
        const one = batch.subarray(0, shape.embd);
        await stage.forward({ seqId: 0, pos: o.prefillTokens, hidden: one }); // warm-up of the single-token graph
        const decode: number[] = [];
        for (let d = 0; d < o.decodeSteps && (d < 3 || !overBudget()); d++) {
            o.signal?.throwIfAborted();
            const out = await stage.forward({ seqId: 0, pos: o.prefillTokens + 1 + d, hidden: one });
            decode.push(out.computeMs / stageLayers);
        }
        return {
            shape: { ...shape }, layerBytes, stageLayers,
            decodeMsPerToken: median(decode), prefillMsPerToken: median(prefill),
            prefillTokens: o.prefillTokens, decodeSteps: decode.length, prefillRuns: prefill.length
        };
    } finally {
        await stage.dispose();
    }
}

/** Times each shape on this machine; temporary files are removed whatever happens. */
export async function measureSpeedProfile(options: SpeedMeasureOptions = {}): Promise<SpeedProfile> {
    const started = performance.now();
    const shapes = options.shapes ?? DEFAULT_SPEED_SHAPES;
    if (shapes.length === 0) throw new RangeError("speed option shapes is empty: give at least one layer shape");
    for (const shape of shapes) checkSpeedLayerShape(shape);
    const prefillTokens = positiveInteger("prefillTokens", options.prefillTokens, 64);
    const decodeSteps = positiveInteger("decodeSteps", options.decodeSteps, 8);
    const prefillRuns = positiveInteger("prefillRuns", options.prefillRuns, 2);
    const budgetMs = options.budgetMsPerShape ?? 1000;
    const hardware = options.hardware ?? await readSpeedHardware();
    const build = options.build ?? readSpeedBuild();
    const gpu = (options.useGpu ?? true) && hardware.backend !== "cpu";
    const threads = effectiveThreads(options.threads ?? 0);
    const minStageBytes = options.minStageBytes ?? (gpu ? GPU_MIN_STAGE_BYTES : await defaultMinStageBytes());
    const dir = await fs.promises.mkdtemp(path.join(options.tempDir ?? os.tmpdir(), "hearth-speed-"));
    try {
        const layers: LayerSpeed[] = [];
        for (const shape of shapes) {
            options.signal?.throwIfAborted();
            options.onProgress?.({ phase: "writing", shape: shape.name });
            const stageLayers = speedStageLayers(speedLayerBytes(shape), minStageBytes);
            const file = await writeSpeedLayerStage(shape, path.join(dir, "layer.gguf"), {
                layers: stageLayers, ...(options.signal != null ? { signal: options.signal } : {})
            });
            options.onProgress?.({ phase: "measuring", shape: shape.name });
            const speed = await timeLayer(file.path, shape, file.layerBytes, stageLayers, {
                threads, gpuLayers: gpu ? 999 : 0, prefillTokens, decodeSteps, prefillRuns, budgetMs,
                ...(options.signal != null ? { signal: options.signal } : {})
            });
            await fs.promises.rm(file.path, { force: true });
            layers.push(speed);
            options.onProgress?.({ phase: "measured", speed });
        }
        return {
            format: SPEED_PROFILE_FORMAT,
            fingerprint: speedProfileFingerprint(hardware, build, shapes, prefillTokens),
            measuredAt: new Date().toISOString(),
            backend: hardware.backend, threads, gpu, layers,
            measureMs: performance.now() - started
        };
    } finally {
        await fs.promises.rm(dir, { recursive: true, force: true });
    }
}

/** Where the profile is cached in a data folder. */
export function speedProfileFile(dataDir: string): string {
    return path.join(dataDir, "speed-profile.json");
}

function isFiniteNonNegative(x: unknown): x is number { return typeof x === "number" && Number.isFinite(x) && x >= 0; }

/** The cached profile when it is well formed and has the wanted fingerprint; null otherwise. */
export function parseCachedSpeedProfile(text: string, fingerprint: string): SpeedProfile | null {
    let value: unknown;
    try { value = JSON.parse(text); } catch { return null; }
    if (value == null || typeof value !== "object") return null;
    const p = value as Partial<SpeedProfile>;
    if (p.format !== SPEED_PROFILE_FORMAT || p.fingerprint !== fingerprint || !Array.isArray(p.layers) || p.layers.length === 0) return null;
    const ok = p.layers.every((l: Partial<LayerSpeed> | null) => l != null && typeof l === "object" && l.shape != null &&
        isFiniteNonNegative(l.decodeMsPerToken) && isFiniteNonNegative(l.prefillMsPerToken) && isFiniteNonNegative(l.layerBytes));
    return ok && typeof p.backend === "string" && isFiniteNonNegative(p.threads) ? p as SpeedProfile : null;
}

/**
 * The profile cached in `dataDir` when its fingerprint matches this machine and build; otherwise
 * (no file, another fingerprint, a damaged file) measures and caches a new one, written atomically.
 */
export async function loadOrMeasureSpeedProfile(dataDir: string, options: SpeedMeasureOptions = {}): Promise<SpeedProfile> {
    const hardware = options.hardware ?? await readSpeedHardware();
    const build = options.build ?? readSpeedBuild();
    const shapes = options.shapes ?? DEFAULT_SPEED_SHAPES;
    const fingerprint = speedProfileFingerprint(hardware, build, shapes, options.prefillTokens ?? 64);
    const file = speedProfileFile(dataDir);
    const text = await fs.promises.readFile(file, "utf8").catch(() => null);
    const cached = text == null ? null : parseCachedSpeedProfile(text, fingerprint);
    if (cached != null) return cached;
    const profile = await measureSpeedProfile({ ...options, hardware, build, shapes });
    await writeFileAtomic(file, `${JSON.stringify(profile, null, 2)}\n`);
    return profile;
}
