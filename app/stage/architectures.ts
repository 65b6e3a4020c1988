// Which model architectures may be split into pipeline stages. An architecture is enabled only
// when a test proves that its stages reproduce the whole model exactly (test/pipeline.test.ts).
export const SUPPORTED_ARCHITECTURES = ["llama", "qwen2", "qwen3"] as const;
export type SupportedArchitecture = (typeof SUPPORTED_ARCHITECTURES)[number];

const REFUSED_WITH_REASON: Array<[RegExp, string]> = [
    [/^gemma/, "Gemma scales the input embeddings inside the graph, so every stage would scale its input again"],
    [/^granite/, "Granite scales the input embeddings and residuals inside the graph, so every stage would scale its input again"],
    [/^(mamba|rwkv|jamba|falcon-h1|lfm2|plamo2|qwen3next|nemotron_h)/, "it keeps recurrent state that the stage runtime does not split yet"],
    [/^(bert|nomic-bert|jina-bert|t5|t5encoder)/, "it is an encoder model, not a text generator that can run as a pipeline"]
];

/** Metadata keys under `<arch>.` whose arrays hold one value per layer and are sliced with the layers. */
export const PER_LAYER_KEYS = new Set([
    "attention.head_count", "attention.head_count_kv", "feed_forward_length",
    "attention.sliding_window_pattern", "attention.layer_norm_rms_epsilon"
]);

export function checkArchitectureSupported(arch: string | undefined, file: string): asserts arch is SupportedArchitecture {
    if (arch == null) throw new Error(`${file}: the GGUF has no general.architecture; it is not a model Hearth can split`);
    if ((SUPPORTED_ARCHITECTURES as readonly string[]).includes(arch)) return;
    const reason = REFUSED_WITH_REASON.find(([re]) => re.test(arch))?.[1] ?? "no test has proven its pipeline stages exact yet";
    throw new Error(`${file}: architecture '${arch}' cannot be split into pipeline stages: ${reason}. ` +
        `Supported: ${SUPPORTED_ARCHITECTURES.join(", ")}. Run it on a single machine, or choose a model of a supported architecture.`);
}
