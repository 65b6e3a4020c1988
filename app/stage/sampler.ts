// Sampling parameters of a sequence (applied by the last stage with llama.cpp's sampler chain):
// one definition, with defaults and bounds, so nothing a peer sends sizes an allocation unchecked
// (the repeat window, for one, is a ring buffer of that many tokens in llama.cpp).
import crypto from "node:crypto";

export interface SamplerParams {
    /** <= 0: greedy. Defaults to 0. */
    temperature?: number;
    /** 0: off. Defaults to 0. */
    topK?: number;
    /** 1: off. Defaults to 1. */
    topP?: number;
    /** 0: off. Defaults to 0. */
    minP?: number;
    /** 1: off. Defaults to 1. */
    repeatPenalty?: number;
    /** Tokens of history that the penalties look at. Defaults to 64. */
    repeatLastN?: number;
    /** Defaults to 0. */
    frequencyPenalty?: number;
    /** Defaults to 0. */
    presencePenalty?: number;
    /** Seed of the sampling RNG. Defaults to a random one for each generation. */
    seed?: number;
}

export const SAMPLER_DEFAULTS = Object.freeze({
    temperature: 0, topK: 0, topP: 1, minP: 0, repeatPenalty: 1, repeatLastN: 64, frequencyPenalty: 0, presencePenalty: 0
});

export const SAMPLER_LIMITS = Object.freeze({
    temperature: { min: 0, max: 100 },
    topK: { min: 0, max: 1 << 20 },
    topP: { min: 0, max: 1 },
    minP: { min: 0, max: 1 },
    repeatPenalty: { min: 0, max: 100 },
    repeatLastN: { min: 0, max: 8192 },
    frequencyPenalty: { min: -100, max: 100 },
    presencePenalty: { min: -100, max: 100 },
    seed: { min: 0, max: 0xffffffff }
});

export class SamplerParamsError extends RangeError {
    constructor(message: string) { super(message); this.name = "SamplerParamsError"; }
}

export function randomSeed(): number {
    return crypto.randomBytes(4).readUInt32LE(0) % 0xffffffff; // 0xffffffff is llama.cpp's "pick one" marker
}

const INTEGER_KEYS = new Set(["topK", "repeatLastN", "seed"]);

/** Every parameter filled in and checked; throws SamplerParamsError naming the parameter. */
export function resolveSampler(params: SamplerParams = {}): Required<SamplerParams> {
    const out = { ...SAMPLER_DEFAULTS, seed: params.seed ?? randomSeed() } as Required<SamplerParams>;
    for (const [key, value] of Object.entries(params) as Array<[keyof SamplerParams, unknown]>) {
        if (value === undefined) continue;
        const limits = SAMPLER_LIMITS[key];
        if (limits == null) throw new SamplerParamsError(`unknown sampler parameter '${key}'`);
        if (typeof value !== "number" || !Number.isFinite(value) || value < limits.min || value > limits.max || (INTEGER_KEYS.has(key) && !Number.isInteger(value)))
            throw new SamplerParamsError(`sampler parameter ${key} must be ${INTEGER_KEYS.has(key) ? "an integer" : "a number"} from ${limits.min} to ${limits.max} (got ${String(value)})`);
        out[key] = value;
    }
    return out;
}
