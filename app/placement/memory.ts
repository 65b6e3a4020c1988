// What a stage needs in memory, from its GGUF header and its options (pure: no I/O). The node
// computes this itself for every stage it is asked to load; it never takes a peer's number.
import { GgufType, kvNumber, kvString, type GgufHeader } from "../gguf/format.ts";
import { arrayItems } from "../gguf/arrays.ts";
import type { StageOptions } from "../stage/options.ts";

export interface StageMemory {
    /** tensor data (and the first stage's input table) */
    weightsBytes: number;
    /** K and V of every layer for every cell of every sequence (f16) */
    kvBytes: number;
    /** llama.cpp's compute buffers and output buffers, with a margin */
    workBytes: number;
    totalBytes: number;
}

function perLayerMax(h: GgufHeader, key: string): number {
    const v = h.kv.get(key);
    if (v == null) return 0;
    if (v.type === GgufType.ARRAY) return Math.max(0, ...arrayItems(v).map(Number));
    return Number(v.value);
}

/** Memory of a stage (or a whole model) with these options. `fileBytes` is the file's size. */
export function estimateStageMemory(h: GgufHeader, fileBytes: number, options: Pick<StageOptions, "contextSize" | "maxSequences" | "batchSize">): StageMemory {
    const arch = kvString(h, "general.architecture") ?? "";
    const embd = kvNumber(h, `${arch}.embedding_length`) ?? 0;
    const layers = kvNumber(h, `${arch}.block_count`) ?? 0;
    const heads = perLayerMax(h, `${arch}.attention.head_count`) || 1;
    const kvHeads = perLayerMax(h, `${arch}.attention.head_count_kv`) || heads;
    const ff = perLayerMax(h, `${arch}.feed_forward_length`);
    const keyLength = kvNumber(h, `${arch}.attention.key_length`) ?? embd / heads;
    const valueLength = kvNumber(h, `${arch}.attention.value_length`) ?? embd / heads;
    const vocab = kvNumber(h, `${arch}.vocab_size`) ?? 0;
    const cells = options.contextSize * options.maxSequences;
    const kvBytes = layers * cells * kvHeads * (keyLength + valueLength) * 2;
    const batch = options.batchSize;
    // Activations of one ubatch (a few embd- and ff-wide f32 rows per token), the attention scores
    // of one ubatch over one sequence's context, and the logits of the sequences' last tokens.
    const compute = batch * (embd * 8 + ff * 3) * 4 + batch * Math.min(options.contextSize, 1 << 16) * heads * 4;
    const outputs = Math.max(vocab, 1) * 4 * Math.max(options.maxSequences, 1);
    const workBytes = 48 * 1024 * 1024 + compute + outputs;
    const weightsBytes = fileBytes;
    return { weightsBytes, kvBytes, workBytes, totalBytes: weightsBytes + kvBytes + workBytes };
}
