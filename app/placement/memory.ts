// What a stage needs in memory, from its GGUF header and its options (pure: no I/O). The node
// computes this itself for every stage it is asked to load; it never takes a peer's number.
import { GgufType, kvNumber, kvString, type GgufHeader } from "../gguf/format.ts";
import { arrayItems } from "../gguf/arrays.ts";
import type { StageOptions } from "../stage/options.ts";
import { GPU_FIXED_BYTES, computeBufferBytes } from "./cost-model.ts";

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

export interface StageGpuMemory {
    /** the stage's layers that go to the GPU (the last min(gpuLayers, n) of its n) */
    gpuLayers: number;
    /** whether the output head goes there too (the last stage, with gpuLayers above its layers) */
    outputOnGpu: boolean;
    /** of the stage's weights and KV cache, those on the GPU */
    weightsBytes: number;
    kvBytes: number;
    /** llama.cpp's compute buffers on the GPU and its fixed allocations there (0 with no layer there) */
    workBytes: number;
    totalBytes: number;
}

/**
 * What a stage puts in GPU memory with n_gpu_layers `options.gpuLayers`, from the stage file's own
 * header (pure; the node computes it for every stage it is asked to load). The same reckoning as
 * placement's cost model (StageCosts.vramBytes): the last min(g, n) layers with their f16 KV
 * cache, the output head when g > n on the last stage, and one set of compute buffers and 48 MiB
 * once any layer is there.
 */
export function estimateStageGpuMemory(h: GgufHeader, options: Pick<StageOptions, "contextSize" | "maxSequences" | "batchSize" | "gpuLayers">): StageGpuMemory {
    const none = { gpuLayers: 0, outputOnGpu: false, weightsBytes: 0, kvBytes: 0, workBytes: 0, totalBytes: 0 };
    if (!(options.gpuLayers > 0)) return none;
    const arch = kvString(h, "general.architecture") ?? "";
    const n = kvNumber(h, `${arch}.block_count`) ?? 0;
    const embd = kvNumber(h, `${arch}.embedding_length`) ?? 0;
    const headsOf = perLayerValues(h, `${arch}.attention.head_count`, n);
    const kvHeadsOf = perLayerValues(h, `${arch}.attention.head_count_kv`, n);
    const heads = Math.max(1, ...headsOf);
    const keyLength = kvNumber(h, `${arch}.attention.key_length`) ?? embd / heads;
    const valueLength = kvNumber(h, `${arch}.attention.value_length`) ?? embd / heads;
    const ff = perLayerMax(h, `${arch}.feed_forward_length`);
    const lastKey = h.kv.get("hearth.stage.last");
    // A stage file says whether it is the last; a whole model is its own last stage.
    const last = lastKey == null || (lastKey.type !== GgufType.ARRAY && lastKey.value === true);
    const blocks = Math.min(options.gpuLayers, n);
    const outputOnGpu = last && options.gpuLayers > n;
    const cells = options.contextSize * options.maxSequences;
    let weightsBytes = 0;
    for (const t of h.tensors) {
        const m = /^blk\.(\d+)\./.exec(t.name);
        if (m != null && Number(m[1]) >= n - blocks) weightsBytes += Number(t.size);
    }
    if (outputOnGpu) weightsBytes += Number((h.tensors.find((t) => t.name === "output.weight") ?? h.tensors.find((t) => t.name === "token_embd.weight"))?.size ?? 0n);
    let kvBytes = 0;
    for (let l = n - blocks; l < n; l++) kvBytes += cells * (kvHeadsOf[l] ?? heads) * (keyLength + valueLength) * 2;
    const workBytes = GPU_FIXED_BYTES + computeBufferBytes({ nEmbd: embd, nFf: ff, nHead: heads }, options);
    return { gpuLayers: blocks, outputOnGpu, weightsBytes, kvBytes, workBytes, totalBytes: weightsBytes + kvBytes + workBytes };
}

/** A per-layer key's values for layers 0…n-1 (a single number for all, or an array). */
function perLayerValues(h: GgufHeader, key: string, n: number): number[] {
    const v = h.kv.get(key);
    if (v == null) return [];
    if (v.type === GgufType.ARRAY) return arrayItems(v).map(Number);
    return new Array<number>(n).fill(Number(v.value));
}
