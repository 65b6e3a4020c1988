// What placement needs to know about a model, without its weights (pure): the bytes of each
// layer's tensors (blk.N.*), of the input embedding table and of the output head, and the sizes
// that set the KV cache and the compute buffers. From a GGUF header (readGgufHeader), or described
// without a file (synthetic shapes for tests and benchmarks: "llama-70b-q4_k_m").
//
// How the pipeline lays a model out (app/stage/slice.ts): the first stage carries the input
// embedding table (read into RAM by the stage runtime, never onto a GPU); the last stage carries
// the output head (output.weight, or token_embd.weight when the two are tied, so a tied table is
// held twice when the first and last stage differ) and the vocabulary; every stage carries the
// small global tensors (output_norm, rope_freqs).
//
// Mixture-of-experts layers (tensors blk.N.ffn_{gate,up,down,gate_up}_exps.*: every expert's
// matrices stacked) hold all their experts in memory, but a token reads only expert_used_count of
// expert_count of them: a layer's active bytes are its other tensors (attention, the router
// ffn_gate_inp, shared experts *_shexp) + its expert bytes × used / count. Memory is reckoned with
// layerBytes, time per token with layerActiveBytes (cost-model.ts).
import { GgufType, kvNumber, kvString, type GgufHeader } from "../gguf/format.ts";
import { arrayItems } from "../gguf/arrays.ts";
import { quantizationByFileType, quantizationByName, QUANTIZATIONS, type Quantization } from "./quantization.ts";
import { restrictedSplitPoints } from "../stage/architectures.ts";

export interface ModelShape {
    /** general.name, the file's name, or the synthetic shape's name */
    name: string;
    architecture: string;
    nLayer: number;
    nEmbd: number;
    /** attention heads (the largest over the layers) */
    nHead: number;
    /** KV heads of each layer */
    nHeadKvByLayer: number[];
    /** K and V widths per head */
    headDimK: number;
    headDimV: number;
    /** feed-forward width (the largest over the layers) */
    nFf: number;
    nVocab: number;
    /** bytes of each layer's tensors (blk.N.*): what the layer holds in memory */
    layerBytes: number[];
    /**
     * bytes of each layer that one token reads: for a mixture-of-experts layer its non-expert
     * tensors + its expert tensors × expert_used_count / expert_count; absent (a dense model): layerBytes
     */
    layerActiveBytes?: number[];
    /** the experts of a mixture-of-experts model (<arch>.expert_count, <arch>.expert_used_count); absent for a dense one */
    experts?: { count: number; used: number };
    /** token_embd.weight: the first stage's input table */
    inputEmbeddingBytes: number;
    /** output.weight, or token_embd.weight when tied: the last stage's head */
    outputHeadBytes: number;
    tiedOutput: boolean;
    /** every other tensor (output_norm, rope_freqs…): each stage carries a copy */
    globalBytes: number;
    /**
     * What every stage file carries besides its tensors: the model's metadata (the vocabulary
     * above all) and tensor padding, counted as the model's header plus its alignment for every
     * tensor (a bound: a stage holds fewer). Nodes count a stage's whole file. 0 for synthetic shapes.
     */
    stageFileOverheadBytes: number;
    /** bytes of all tensors in the file (a tied table once) */
    totalBytes: number;
    /** parameters of all tensors (a tied table once) */
    parameters: number;
    /** the file's quantization (general.file_type), null when unknown or mixed */
    quantization: string | null;
    /**
     * The layer indices at which the model may be split (where a stage may end and the next
     * begin), when its architecture restricts them (app/stage/architectures.ts allowedSplitPoints:
     * e.g. a sliding-window pattern llama.cpp fixes by absolute layer index); absent: every one.
     */
    splitPoints?: number[];
    /** why `splitPoints` is restricted */
    splitRule?: string;
    /** totalBytes × 8 / parameters */
    bitsPerWeight: number;
}

/** Bytes of layer `layer` that one token reads (its active experts only, for a mixture-of-experts layer). */
export function activeLayerBytes(shape: Pick<ModelShape, "layerBytes" | "layerActiveBytes">, layer: number): number {
    return shape.layerActiveBytes?.[layer] ?? shape.layerBytes[layer] ?? 0;
}

/** f16 K and V of one token (one KV cell) in layer `layer`. */
export function kvBytesPerTokenOfLayer(shape: ModelShape, layer: number): number {
    return (shape.nHeadKvByLayer[layer] ?? 0) * (shape.headDimK + shape.headDimV) * 2;
}

/** f16 K and V of one token over all layers. */
export function kvBytesPerToken(shape: ModelShape): number {
    let sum = 0;
    for (let l = 0; l < shape.nLayer; l++) sum += kvBytesPerTokenOfLayer(shape, l);
    return sum;
}

function perLayer(h: GgufHeader, key: string, layers: number): number[] | null {
    const v = h.kv.get(key);
    if (v == null) return null;
    if (v.type === GgufType.ARRAY) {
        const items = arrayItems(v).map(Number);
        if (items.length === 0) return null;
        return Array.from({ length: layers }, (_, i) => items[i] ?? items[items.length - 1]!);
    }
    return new Array<number>(layers).fill(Number(v.value));
}

export class ModelShapeError extends Error {
    constructor(message: string) { super(message); this.name = "ModelShapeError"; }
}

/** The shape of a model from its GGUF header. `name` defaults to general.name. */
export function modelShapeFromHeader(h: GgufHeader, name?: string): ModelShape {
    const arch = kvString(h, "general.architecture");
    const label = name ?? kvString(h, "general.name") ?? "model";
    if (arch == null) throw new ModelShapeError(`${label}: the GGUF has no general.architecture`);
    const nLayer = kvNumber(h, `${arch}.block_count`);
    if (nLayer == null || !Number.isInteger(nLayer) || nLayer <= 0) throw new ModelShapeError(`${label}: the GGUF has no valid ${arch}.block_count`);
    const tokenEmbd = h.tensors.find((t) => t.name === "token_embd.weight");
    if (tokenEmbd == null) throw new ModelShapeError(`${label}: the GGUF has no token_embd.weight`);
    const output = h.tensors.find((t) => t.name === "output.weight");
    const nEmbd = kvNumber(h, `${arch}.embedding_length`) ?? Number(tokenEmbd.dims[0] ?? 0n);
    const heads = perLayer(h, `${arch}.attention.head_count`, nLayer) ?? new Array<number>(nLayer).fill(1);
    const nHead = Math.max(1, ...heads);
    const kvHeads = perLayer(h, `${arch}.attention.head_count_kv`, nLayer) ?? heads;
    const ff = perLayer(h, `${arch}.feed_forward_length`, nLayer) ?? [0];
    const headDimK = kvNumber(h, `${arch}.attention.key_length`) ?? nEmbd / nHead;
    const headDimV = kvNumber(h, `${arch}.attention.value_length`) ?? nEmbd / nHead;
    const tokens = h.kv.get("tokenizer.ggml.tokens");
    const nVocab = kvNumber(h, `${arch}.vocab_size`) ?? (tokens?.type === GgufType.ARRAY ? tokens.count : Number(tokenEmbd.dims[1] ?? 1n));

    const layerBytes = new Array<number>(nLayer).fill(0);
    const expertBytes = new Array<number>(nLayer).fill(0);
    let expertTensorCount = 0; // the experts stacked in an expert tensor (its last dimension)
    let globalBytes = 0;
    let totalBytes = 0;
    let parameters = 0;
    for (const t of h.tensors) {
        const bytes = Number(t.size);
        totalBytes += bytes;
        parameters += t.dims.reduce((p, d) => p * Number(d), 1);
        const m = /^blk\.(\d+)\./.exec(t.name);
        if (m != null) {
            const layer = Number(m[1]);
            if (layer >= nLayer) throw new ModelShapeError(`${label}: tensor ${t.name} names layer ${layer} but the model has ${nLayer} layers`);
            layerBytes[layer]! += bytes;
            if (EXPERT_TENSOR.test(t.name)) {
                expertBytes[layer]! += bytes;
                expertTensorCount = Math.max(expertTensorCount, Number(t.dims.at(-1) ?? 1n));
            }
        } else if (t.name !== "token_embd.weight" && t.name !== "output.weight") {
            globalBytes += bytes;
        }
    }
    const fileType = kvNumber(h, "general.file_type");
    const experts = expertsOf(h, arch, label, expertTensorCount, expertBytes.some((b) => b > 0));
    const moe = experts === undefined ? {} : {
        experts,
        layerActiveBytes: layerBytes.map((b, l) => b - expertBytes[l]! + (expertBytes[l]! * experts.used) / experts.count)
    };
    const split = splitPointsOf(h);
    return {
        name: label, architecture: arch, nLayer, nEmbd, nHead, nHeadKvByLayer: kvHeads, headDimK, headDimV,
        nFf: Math.max(0, ...ff), nVocab, layerBytes,
        inputEmbeddingBytes: Number(tokenEmbd.size),
        outputHeadBytes: Number((output ?? tokenEmbd).size),
        tiedOutput: output == null,
        ...moe,
        ...split,
        globalBytes, totalBytes, parameters,
        stageFileOverheadBytes: Number(h.dataOffset) + h.alignment * h.tensors.length,
        quantization: quantizationByFileType(fileType)?.name ?? null,
        bitsPerWeight: parameters > 0 ? (totalBytes * 8) / parameters : 0
    };
}

/** The split points of an architecture that restricts them; {} when every layer boundary is allowed. */
function splitPointsOf(h: GgufHeader): { splitPoints?: number[]; splitRule?: string } {
    const restricted = restrictedSplitPoints(h.kv);
    return restricted === undefined ? {} : { splitPoints: restricted.points, splitRule: restricted.reason };
}

/** A layer's routed experts, all stacked in one tensor (weights, and biases as gpt-oss has them); not the shared experts (*_shexp), which every token uses. */
const EXPERT_TENSOR = /^blk\.\d+\.ffn_(gate|up|down|gate_up)_exps\./;

/**
 * The experts of a model with expert tensors: <arch>.expert_count (else the experts the tensors
 * stack) and <arch>.expert_used_count. Without a used count, every expert is taken as read (the
 * slowest it can be). undefined for a dense model.
 */
function expertsOf(h: GgufHeader, arch: string, label: string, stacked: number, hasExpertTensors: boolean): { count: number; used: number } | undefined {
    if (!hasExpertTensors) return undefined;
    const count = kvNumber(h, `${arch}.expert_count`) ?? stacked;
    const used = kvNumber(h, `${arch}.expert_used_count`) ?? count;
    if (!Number.isInteger(count) || count <= 0) throw new ModelShapeError(`${label}: the GGUF has expert tensors but no valid ${arch}.expert_count`);
    if (!Number.isInteger(used) || used <= 0 || used > count)
        throw new ModelShapeError(`${label}: ${arch}.expert_used_count is ${used}, expected 1 to ${arch}.expert_count (${count})`);
    return { count, used };
}

/** A llama-architecture model described by its sizes, every tensor at `bitsPerWeight`. */
export interface SyntheticModelSpec {
    name: string;
    layers: number;
    embd: number;
    ff: number;
    heads: number;
    kvHeads: number;
    vocab: number;
    /** output head shares the input embedding table */
    tied: boolean;
    /** a name from QUANTIZATIONS ("Q4_K_M"); sets bitsPerWeight unless that is given */
    quantization?: string;
    bitsPerWeight?: number;
}

/** The shape of a model that has no file (for tests, benchmarks and `hearth plan --model-shape`). */
export function describeModel(spec: SyntheticModelSpec): ModelShape {
    for (const key of ["layers", "embd", "ff", "heads", "kvHeads", "vocab"] as const)
        if (!Number.isInteger(spec[key]) || spec[key] <= 0) throw new ModelShapeError(`model ${spec.name}: ${key} must be a positive integer (got ${spec[key]})`);
    if (spec.embd % spec.heads !== 0) throw new ModelShapeError(`model ${spec.name}: embd ${spec.embd} must be a multiple of heads ${spec.heads}`);
    const quant = spec.quantization === undefined ? undefined : quantizationByName(spec.quantization);
    if (spec.quantization !== undefined && quant === undefined) throw new ModelShapeError(`model ${spec.name}: unknown quantization '${spec.quantization}'`);
    const bpw = spec.bitsPerWeight ?? quant?.bitsPerWeight;
    if (bpw === undefined || !(bpw > 0)) throw new ModelShapeError(`model ${spec.name}: give a quantization or bitsPerWeight`);
    const headDim = spec.embd / spec.heads;
    const q = spec.heads * headDim, kv = spec.kvHeads * headDim;
    const layerParams = spec.embd * q + 2 * spec.embd * kv + q * spec.embd + 3 * spec.embd * spec.ff + 2 * spec.embd;
    const tableParams = spec.vocab * spec.embd;
    const bytes = (params: number) => Math.round((params * bpw) / 8);
    const layerBytes = new Array<number>(spec.layers).fill(bytes(layerParams));
    const tableBytes = bytes(tableParams);
    const globalBytes = spec.embd * 4; // output_norm in f32
    const parameters = spec.layers * layerParams + tableParams * (spec.tied ? 1 : 2) + spec.embd;
    const totalBytes = layerBytes.reduce((a, b) => a + b, 0) + tableBytes * (spec.tied ? 1 : 2) + globalBytes;
    return {
        name: spec.name, architecture: "llama", nLayer: spec.layers, nEmbd: spec.embd, nHead: spec.heads,
        nHeadKvByLayer: new Array<number>(spec.layers).fill(spec.kvHeads), headDimK: headDim, headDimV: headDim,
        nFf: spec.ff, nVocab: spec.vocab, layerBytes,
        inputEmbeddingBytes: tableBytes, outputHeadBytes: tableBytes, tiedOutput: spec.tied,
        globalBytes, totalBytes, parameters, stageFileOverheadBytes: 0,
        quantization: quant?.name ?? null,
        bitsPerWeight: (totalBytes * 8) / parameters
    };
}

/** Llama 3.x sizes (the vocabulary of 128256 tokens). */
export const MODEL_FAMILIES: Readonly<Record<string, Omit<SyntheticModelSpec, "name" | "quantization" | "bitsPerWeight">>> = Object.freeze({
    "llama-1b": { layers: 16, embd: 2048, ff: 8192, heads: 32, kvHeads: 8, vocab: 128256, tied: true },
    "llama-3b": { layers: 28, embd: 3072, ff: 8192, heads: 24, kvHeads: 8, vocab: 128256, tied: true },
    "llama-8b": { layers: 32, embd: 4096, ff: 14336, heads: 32, kvHeads: 8, vocab: 128256, tied: false },
    "llama-70b": { layers: 80, embd: 8192, ff: 28672, heads: 64, kvHeads: 8, vocab: 128256, tied: false },
    "llama-405b": { layers: 126, embd: 16384, ff: 53248, heads: 128, kvHeads: 8, vocab: 128256, tied: false }
});

/** A few names `syntheticModelShape` knows (any family with any quantization works). */
export const MODEL_SHAPE_EXAMPLES: readonly string[] = Object.freeze(["llama-1b-q4_0", "llama-8b-q4_k_m", "llama-70b-q4_k_m", "llama-405b-q2_k"]);

/**
 * A synthetic model by name: FAMILY-QUANT, FAMILY one of MODEL_FAMILIES ("llama-70b"), QUANT one
 * of QUANTIZATIONS in any case ("q4_k_m"). "llama-70b-q4_k_m" is 80 layers, n_embd 8192, 8 KV
 * heads of 128, about 40 GiB.
 */
export function syntheticModelShape(name: string): ModelShape {
    const lower = name.toLowerCase();
    for (const [family, spec] of Object.entries(MODEL_FAMILIES)) {
        if (!lower.startsWith(`${family}-`)) continue;
        const quant = quantizationByName(lower.slice(family.length + 1));
        if (quant !== undefined) return describeModel({ ...spec, name: lower, quantization: quant.name });
    }
    throw new ModelShapeError(`unknown model shape '${name}': write FAMILY-QUANT with FAMILY one of ${Object.keys(MODEL_FAMILIES).join(", ")} ` +
        `and QUANT one of ${QUANTIZATIONS.map((q) => q.name.toLowerCase()).join(", ")} (e.g. ${MODEL_SHAPE_EXAMPLES.join(", ")})`);
}

/**
 * The same model in another quantization: every tensor scaled by the ratio of bits per weight
 * (from the file's known quantization, else its measured bits per weight).
 */
export function requantizedShape(shape: ModelShape, target: Quantization): ModelShape {
    const from = shape.quantization === null ? shape.bitsPerWeight : quantizationByName(shape.quantization)!.bitsPerWeight;
    const ratio = target.bitsPerWeight / from;
    const scale = (n: number) => Math.round(n * ratio);
    const layerBytes = shape.layerBytes.map(scale);
    const active = shape.layerActiveBytes === undefined ? {} : { layerActiveBytes: shape.layerActiveBytes.map(scale) };
    const inputEmbeddingBytes = scale(shape.inputEmbeddingBytes);
    const outputHeadBytes = shape.tiedOutput ? inputEmbeddingBytes : scale(shape.outputHeadBytes);
    const totalBytes = layerBytes.reduce((a, b) => a + b, 0) + inputEmbeddingBytes + (shape.tiedOutput ? 0 : outputHeadBytes) + shape.globalBytes;
    return {
        ...shape,
        name: `${shape.name} as ${target.name}`,
        layerBytes, ...active, inputEmbeddingBytes, outputHeadBytes, totalBytes,
        quantization: target.name,
        bitsPerWeight: shape.parameters > 0 ? (totalBytes * 8) / shape.parameters : 0
    };
}
