// The one definition of a stage's options, their defaults and their limits. The in-process
// pipeline, the node (from the wire) and the CLI all resolve options through this file.
import os from "node:os";

export type FlashAttentionMode = "auto" | "on" | "off";

export interface StageOptions {
    /** KV-cache cells per sequence. Defaults to 4096. */
    contextSize: number;
    /** Most tokens in one step (llama.cpp's n_batch and n_ubatch). Defaults to 512. */
    batchSize: number;
    /** Sequences the stage holds at once, each with a KV cache of its own. Defaults to 4. */
    maxSequences: number;
    /** CPU threads; 0: one per core. Capped to the machine's cores either way. Defaults to 0. */
    threads: number;
    /** Layers of the stage on the GPU (0: none; more than the stage has: all). Defaults to 0. */
    gpuLayers: number;
    /** Flash attention; "auto" lets llama.cpp decide for the backend, as node-llama-cpp does. Defaults to "auto". */
    flashAttention: FlashAttentionMode;
    /** 0-100: how long idle CPU worker threads spin before sleeping (0: sleep at once). Defaults to 0. */
    threadPolling: number;
}

export const STAGE_OPTION_DEFAULTS: Readonly<StageOptions> = Object.freeze({
    contextSize: 4096,
    batchSize: 512,
    maxSequences: 4,
    threads: 0,
    gpuLayers: 0,
    flashAttention: "auto",
    threadPolling: 0
});

type NumericOption = Exclude<keyof StageOptions, "flashAttention">;

export const STAGE_OPTION_LIMITS: Readonly<Record<NumericOption, { min: number; max: number }>> = Object.freeze({
    contextSize: { min: 1, max: 1 << 20 },
    batchSize: { min: 1, max: 8192 },
    maxSequences: { min: 1, max: 256 },
    threads: { min: 0, max: 1024 },
    gpuLayers: { min: 0, max: 100000 },
    threadPolling: { min: 0, max: 100 }
});

/** KV cells of all sequences together: bounds what one stage may ask llama.cpp to allocate. */
export const MAX_KV_CELLS = 1 << 22;

export class StageOptionsError extends RangeError {
    constructor(message: string) { super(message); this.name = "StageOptionsError"; }
}

/** Fills in the defaults and checks every value; throws StageOptionsError naming the option. */
export function resolveStageOptions(options: Partial<StageOptions> = {}): StageOptions {
    const out: StageOptions = { ...STAGE_OPTION_DEFAULTS };
    for (const [key, value] of Object.entries(options) as Array<[keyof StageOptions, unknown]>) {
        if (value === undefined) continue;
        if (!(key in STAGE_OPTION_DEFAULTS)) throw new StageOptionsError(`unknown stage option '${key}'`);
        if (key === "flashAttention") {
            if (value !== "auto" && value !== "on" && value !== "off") throw new StageOptionsError(`flashAttention must be "auto", "on" or "off" (got ${String(value)})`);
            out.flashAttention = value;
            continue;
        }
        const { min, max } = STAGE_OPTION_LIMITS[key];
        if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max)
            throw new StageOptionsError(`stage option ${key} must be an integer from ${min} to ${max} (got ${String(value)})`);
        out[key] = value;
    }
    if (out.contextSize * out.maxSequences > MAX_KV_CELLS)
        throw new StageOptionsError(`contextSize × maxSequences = ${out.contextSize * out.maxSequences} KV cells is over the limit of ${MAX_KV_CELLS}; lower one of them`);
    return out;
}

/** The CPU threads a stage really uses: `threads`, or every core, never more than the machine has. */
export function effectiveThreads(threads: number): number {
    const cores = os.availableParallelism();
    return threads <= 0 ? cores : Math.min(threads, cores);
}
