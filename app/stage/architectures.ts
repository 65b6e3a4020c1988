// Which model architectures may be split into pipeline stages, and where. An architecture is
// enabled only when a test proves that its stages reproduce the whole model exactly
// (test/pipeline.test.ts, test/architectures.test.ts).
import { GgufType, type GgufValue } from "../gguf/format.ts";

export const SUPPORTED_ARCHITECTURES = ["llama", "qwen2", "qwen3", "qwen3moe", "phi3", "mistral3", "gemma2", "gemma3", "gpt-oss", "qwen2moe", "olmoe"] as const;
export type SupportedArchitecture = (typeof SUPPORTED_ARCHITECTURES)[number];

/** Where the architectures that cannot be split yet are followed up. */
const TRACKING = "tracked in issue 12";

const REFUSED_WITH_REASON: Array<[RegExp, string]> = [
    [/^(gemma3n|gemma4)/, "its layers read per-layer token embeddings (and gemma4 shares KV caches across layers), which only the first stage has"],
    [/^gemma-embedding$/, "it is an embedding model (non-causal, pooled), not a text generator that can run as a pipeline"],
    [/^gemma$/, "Gemma (1) scales every input of the graph by sqrt(n_embd); the stage runtime undoes that for gemma2, but no test has proven it for gemma yet"],
    [/^granite/, "Granite scales the input embeddings and residuals inside the graph, so every stage would scale its input again"],
    [/^(mamba|rwkv|arwkv|jamba|falcon-h1|lfm2|plamo2|qwen3next|qwen35|nemotron_h|granitehybrid|kimi-linear)/, "it keeps recurrent state that the stage runtime does not split yet"],
    [/^(bert|nomic-bert|jina-bert|neo-bert|modern-bert|eurobert|t5|t5encoder)/, "it is an encoder model, not a text generator that can run as a pipeline"],
    [/^(llama4|smollm3)$/, "its graph skips RoPE on layers chosen by their absolute index (n_no_rope_layer_step), fixed in llama.cpp's code"],
    [/^(glm4|glm4moe)$/, "llama.cpp's graph aborts the process when it is fed embeddings instead of token ids (GGML_ABORT \"This GGUF does not support multimodal\") unless the model has M-RoPE sections, and every stage after the first is fed the previous stage's hidden states as embeddings"],
    [/^(deepseek2|deepseek|dots1|bailingmoe2|hunyuan-moe|ernie4_5-moe|afmoe)/, "its first layers are dense and the rest mixture-of-experts by absolute index (leading_dense_block_count), which no test has proven per stage yet"],
    [/^(cohere2|exaone4|olmo2|plamo3|granite-swa|mimo2|step35|laguna)$/, "its sliding-window layer pattern follows the absolute layer index (set_swa_pattern), and no test has proven which split points keep it yet"]
];

/** Metadata keys under `<arch>.` whose arrays hold one value per layer and are sliced with the layers. */
export const PER_LAYER_KEYS = new Set([
    "attention.head_count", "attention.head_count_kv", "feed_forward_length",
    "attention.sliding_window_pattern", "attention.layer_norm_rms_epsilon",
    "expert_feed_forward_length", "expert_used_count"
]);

/** What the stage technique must know of an architecture's graph (llama.cpp src/models/<arch>.cpp). */
export interface ArchitectureTraits {
    /**
     * Gemma multiplies the input by sqrtf(n_embd) inside the graph. "tokens": only when the batch
     * holds token ids (gemma3: `ubatch.token ? sqrtf(n_embd) : 1.0f`), so the first stage, which
     * feeds embeddings it looked up itself, scales them as the graph would. "always" (gemma2): every
     * stage's graph scales its input, so a later stage puts its input back over the scaled tensor
     * `inp_scaled` before any layer reads it (native/src/stage.cc, hearth.stage.restore_input).
     */
    inputScale?: "tokens" | "always";
    /** llama.cpp requires output.weight (the head is never tied to token_embd.weight). */
    separateHead?: boolean;
    /** llama.cpp always ties the head to token_embd.weight: the file has no output.weight. */
    tiedHead?: boolean;
    /**
     * The sliding-window layer pattern llama.cpp sets with set_swa_pattern(period) over the
     * absolute layer index (layer il is full attention when il % period == period - 1), the period
     * read from `<arch>.attention.sliding_window_pattern` (a scalar; arrays are ignored) or this
     * default; null when the model has no sliding window.
     */
    swaDefaultPeriod?: number;
    /** gemma3: sliding-window attention only when `<arch>.attention.sliding_window` is set and > 0. */
    swaNeedsWindowKey?: boolean;
    /**
     * Gemma computes its attention scale from the model's layer count: llama.cpp names a model of
     * this many layers "27B" and then scales by 1/sqrt(n_embd / n_head) instead of
     * 1/sqrt(head size). A stage has fewer layers than its model.
     */
    typedAttentionScaleLayers?: number;
    /** mixture-of-experts layers (expert_count > 0 required) */
    moe?: boolean;
}

export const ARCHITECTURE_TRAITS: Readonly<Record<SupportedArchitecture, ArchitectureTraits>> = {
    llama: {}, qwen2: {}, qwen3: {},
    qwen3moe: { moe: true },
    phi3: {},
    mistral3: {},
    gemma2: { inputScale: "always", tiedHead: true, swaDefaultPeriod: 2, typedAttentionScaleLayers: 46 },
    gemma3: { inputScale: "tokens", swaDefaultPeriod: 6, swaNeedsWindowKey: true, typedAttentionScaleLayers: 62 },
    "gpt-oss": { separateHead: true, swaDefaultPeriod: 2, moe: true },
    // both require output.weight (load_arch_tensors creates it with flags 0)
    qwen2moe: { separateHead: true, moe: true },
    olmoe: { separateHead: true, moe: true }
};

export function isSupportedArchitecture(arch: string | undefined): arch is SupportedArchitecture {
    return arch != null && (SUPPORTED_ARCHITECTURES as readonly string[]).includes(arch);
}

export function checkArchitectureSupported(arch: string | undefined, file: string): asserts arch is SupportedArchitecture {
    if (arch == null) throw new Error(`${file}: the GGUF has no general.architecture; it is not a model Hearth can split`);
    if (isSupportedArchitecture(arch)) return;
    const known = REFUSED_WITH_REASON.find(([re]) => re.test(arch))?.[1];
    const reason = known != null ? `${known} (${TRACKING})` : `no test has proven its pipeline stages exact yet (${TRACKING})`;
    throw new Error(`${file}: architecture '${arch}' cannot be split into pipeline stages: ${reason}. ` +
        `Supported: ${SUPPORTED_ARCHITECTURES.join(", ")}. Run it on a single machine, or choose a model of a supported architecture.`);
}

function scalarUint32(kv: ReadonlyMap<string, GgufValue>, key: string): number | undefined {
    const v = kv.get(key);
    // llama.cpp reads these uint32 keys only from uint32 values (get_key_or_arr ignores arrays)
    return v != null && v.type === GgufType.UINT32 ? Number(v.value) : undefined;
}

function firstOf(kv: ReadonlyMap<string, GgufValue>, key: string): number | undefined {
    const v = kv.get(key);
    if (v == null) return undefined;
    if (v.type === GgufType.ARRAY) return v.count > 0 && (v.itemType === GgufType.UINT32 || v.itemType === GgufType.INT32) ? v.raw.readUInt32LE(0) : undefined;
    return typeof v.value === "number" || typeof v.value === "bigint" ? Number(v.value) : undefined;
}

/** Why an architecture restricts its split points, and the rule; null when every point is allowed. */
export function splitPointRule(kv: ReadonlyMap<string, GgufValue>): { period: number; reason: string } | { none: true; reason: string } | null {
    const archValue = kv.get("general.architecture");
    const arch = archValue?.type === GgufType.STRING ? (archValue.value as Buffer).toString("utf8") : undefined;
    if (!isSupportedArchitecture(arch)) return { none: true, reason: `architecture '${arch ?? "(none)"}' cannot be split at all` };
    const t = ARCHITECTURE_TRAITS[arch];
    const nLayers = scalarUint32(kv, `${arch}.block_count`) ?? 0;
    if (t.typedAttentionScaleLayers != null) {
        const embd = scalarUint32(kv, `${arch}.embedding_length`) ?? 0;
        const heads = firstOf(kv, `${arch}.attention.head_count`) ?? 1;
        const headK = scalarUint32(kv, `${arch}.attention.key_length`) ?? Math.floor(embd / heads);
        if (Math.floor(embd / heads) !== headK && nLayers >= t.typedAttentionScaleLayers)
            return {
                none: true,
                reason: `llama.cpp takes a ${arch} model of ${t.typedAttentionScaleLayers} layers for the 27B one and scales its attention by 1/sqrt(n_embd/n_head) = ` +
                    `1/sqrt(${Math.floor(embd / heads)}) instead of 1/sqrt(head size ${headK}); a stage has another layer count and would scale differently`
            };
    }
    if (t.swaDefaultPeriod != null) {
        if (t.swaNeedsWindowKey && !((scalarUint32(kv, `${arch}.attention.sliding_window`) ?? 0) > 0)) return null;
        const period = scalarUint32(kv, `${arch}.attention.sliding_window_pattern`) ?? t.swaDefaultPeriod;
        if (period <= 1) return null; // 0: every layer sliding-window, 1: none
        return {
            period,
            reason: `llama.cpp sets ${arch}'s sliding-window pattern by absolute layer index (layer i has full attention when i % ${period} == ${period - 1}, ` +
                `set_swa_pattern(${period})), so a stage must start at a multiple of ${period} to keep it`
        };
    }
    return null;
}

/**
 * The layer indices k (0 < k < nLayers) at which the model described by this GGUF metadata may be
 * split, i.e. where a stage may end and the next begin, in increasing order. Pure: reads
 * general.architecture and `<arch>.*` keys only. An architecture that cannot be split gives [].
 */
export function allowedSplitPoints(kv: ReadonlyMap<string, GgufValue>): number[] {
    const archValue = kv.get("general.architecture");
    const arch = archValue?.type === GgufType.STRING ? (archValue.value as Buffer).toString("utf8") : undefined;
    const nLayers = arch == null ? 0 : scalarUint32(kv, `${arch}.block_count`) ?? 0;
    const rule = splitPointRule(kv);
    const points: number[] = [];
    if (rule != null && "none" in rule) return points;
    for (let k = 1; k < nLayers; k++) if (rule == null || k % rule.period === 0) points.push(k);
    return points;
}

/**
 * The split points when the architecture restricts them (a sliding-window pattern, no split at
 * all), with the reason; undefined when every layer boundary is allowed or the architecture cannot
 * be split (slicing refuses that with its own reason). What placement takes (planner and
 * `--layers auto`).
 */
export function restrictedSplitPoints(kv: ReadonlyMap<string, GgufValue>): { points: number[]; reason: string } | undefined {
    const rule = splitPointRule(kv);
    const archValue = kv.get("general.architecture");
    const arch = archValue?.type === GgufType.STRING ? (archValue.value as Buffer).toString("utf8") : undefined;
    if (rule == null || !isSupportedArchitecture(arch)) return undefined;
    return { points: allowedSplitPoints(kv), reason: rule.reason };
}

