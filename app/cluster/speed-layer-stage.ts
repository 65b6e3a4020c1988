// Writes a synthetic middle stage of n identical-shaped layers (what sliceStage makes of layers
// 1..n of an (n+2)-layer model: hidden states in, hidden states out, no tokenizer, no vocabulary
// head) straight in its quantized type, so that timing a layer of an 8B shape costs its ~120 MB of
// q4_0 bytes on disk and nothing more: no f32 model of gigabytes to write, no vocabulary table, no
// quantizer pass. The weights are one repeated block pattern with small scales: finite, and as
// fast to multiply as real ones (each layer has pages of its own, so caches see distinct bytes).
import fs from "node:fs";
import { bool, f32, str, u32, type GgufValue } from "../gguf/format.ts";
import { GgmlType, ggmlTypeInfo, tensorBytes } from "../gguf/ggml-types.ts";
import { SequentialFileWriter, layoutGguf, type TensorSpec } from "../gguf/writer.ts";
import { STAGE_FORMAT_VERSION, STAGE_KEYS } from "../stage/slice.ts";

/** The weight types a synthetic layer can be written in. */
export const SPEED_LAYER_TYPES = { q4_0: GgmlType.Q4_0, q8_0: GgmlType.Q8_0 } as const;
export type SpeedLayerType = keyof typeof SPEED_LAYER_TYPES;

/** The shape of one decoder layer (llama architecture: grouped-query attention and a SwiGLU MLP). */
export interface SpeedLayerShape {
    /** a label such as "1b", kept in the profile */
    name: string;
    embd: number;
    ff: number;
    heads: number;
    kvHeads: number;
    type: SpeedLayerType;
}

export interface SpeedLayerStageFile {
    path: string;
    layers: number;
    /** bytes of one layer's tensors (blk.0.*): what a real layer of this shape occupies */
    layerBytes: number;
    fileBytes: number;
}

export interface SpeedLayerStageOptions {
    /** Layers in the stage. Defaults to 1. */
    layers?: number;
    signal?: AbortSignal;
}

/** Throws naming the field when a shape cannot be a llama layer in its type. */
export function checkSpeedLayerShape(s: SpeedLayerShape): void {
    for (const [name, v] of [["embd", s.embd], ["ff", s.ff], ["heads", s.heads], ["kvHeads", s.kvHeads]] as const)
        if (!Number.isInteger(v) || v <= 0) throw new RangeError(`speed shape ${s.name}: ${name} must be a positive integer (got ${v})`);
    if (s.embd % s.heads !== 0) throw new RangeError(`speed shape ${s.name}: embd ${s.embd} must be a multiple of heads ${s.heads}`);
    if (s.heads % s.kvHeads !== 0) throw new RangeError(`speed shape ${s.name}: heads ${s.heads} must be a multiple of kvHeads ${s.kvHeads}`);
    if ((s.embd / s.heads) % 2 !== 0) throw new RangeError(`speed shape ${s.name}: the head size embd / heads must be even for RoPE`);
    if (!(s.type in SPEED_LAYER_TYPES)) throw new RangeError(`speed shape ${s.name}: type must be one of ${Object.keys(SPEED_LAYER_TYPES).join(", ")}`);
    const block = ggmlTypeInfo(SPEED_LAYER_TYPES[s.type]).blockSize;
    if (s.embd % block !== 0 || s.ff % block !== 0) throw new RangeError(`speed shape ${s.name}: embd and ff must be multiples of ${block} for ${s.type}`);
}

const PATTERN_BLOCKS = 16384;

/** Quantized blocks with a fixed small scale (f16 2^-8) and pseudo-random quants. */
function blockPattern(type: SpeedLayerType): Buffer {
    const info = ggmlTypeInfo(SPEED_LAYER_TYPES[type]);
    const out = Buffer.alloc(PATTERN_BLOCKS * info.typeSize);
    let s = 0x2545f491;
    for (let b = 0; b < PATTERN_BLOCKS; b++) {
        const at = b * info.typeSize;
        out.writeUInt16LE(7 << 10, at); // f16 exponent 7 - 15, mantissa 0: 2^-8
        for (let i = 2; i < info.typeSize; i++) {
            s ^= s << 13; s ^= s >>> 17; s ^= s << 5; // xorshift32
            out[at + i] = type === "q4_0" ? s & 0xff : ((s & 0x3f) - 32) & 0xff; // q8_0: int8 in [-32, 32)
        }
    }
    return out;
}

/** Bytes of one layer of this shape (its tensors, as writeSpeedLayerStage writes them). */
export function speedLayerBytes(shape: SpeedLayerShape): number {
    checkSpeedLayerShape(shape);
    const headDim = shape.embd / shape.heads;
    const E = BigInt(shape.embd), F = BigInt(shape.ff), Q = BigInt(shape.heads * headDim), K = BigInt(shape.kvHeads * headDim);
    const type = SPEED_LAYER_TYPES[shape.type];
    const bytes = tensorBytes(GgmlType.F32, [E]) * 2n + tensorBytes(type, [E, Q]) + tensorBytes(type, [E, K]) * 2n + tensorBytes(type, [Q, E]) +
        tensorBytes(type, [E, F]) * 2n + tensorBytes(type, [F, E]);
    return Number(bytes);
}

/** Writes the stage to `out`; removes it again when writing fails or is aborted. */
export async function writeSpeedLayerStage(shape: SpeedLayerShape, out: string, options: SpeedLayerStageOptions = {}): Promise<SpeedLayerStageFile> {
    checkSpeedLayerShape(shape);
    const n = options.layers ?? 1;
    if (!Number.isInteger(n) || n < 1 || n > 256) throw new RangeError(`speed stage layers must be an integer from 1 to 256 (got ${n})`);
    const a = "llama";
    const headDim = shape.embd / shape.heads;
    const kv = new Map<string, GgufValue>([
        ["general.architecture", str(a)],
        ["general.name", str(`hearth-speed-${shape.name}`)],
        [`${a}.context_length`, u32(4096)],
        [`${a}.embedding_length`, u32(shape.embd)],
        [`${a}.block_count`, u32(n)],
        [`${a}.feed_forward_length`, u32(shape.ff)],
        [`${a}.attention.head_count`, u32(shape.heads)],
        [`${a}.attention.head_count_kv`, u32(shape.kvHeads)],
        [`${a}.attention.layer_norm_rms_epsilon`, f32(1e-5)],
        [`${a}.rope.freq_base`, f32(10000)],
        [`${a}.rope.dimension_count`, u32(headDim)],
        [`${a}.vocab_size`, u32(1)],
        ["tokenizer.ggml.model", str("none")],
        [STAGE_KEYS.version, u32(STAGE_FORMAT_VERSION)],
        [STAGE_KEYS.layerStart, u32(1)],
        [STAGE_KEYS.layerEnd, u32(1 + n)],
        [STAGE_KEYS.layerTotal, u32(2 + n)],
        [STAGE_KEYS.first, bool(false)],
        [STAGE_KEYS.last, bool(false)]
    ]);
    const E = BigInt(shape.embd), F = BigInt(shape.ff), Q = BigInt(shape.heads * headDim), K = BigInt(shape.kvHeads * headDim);
    const type = SPEED_LAYER_TYPES[shape.type];
    const vector = (name: string, n: bigint): TensorSpec => ({ name, dims: [n], type: GgmlType.F32 });
    const matrix = (name: string, dims: bigint[]): TensorSpec => ({ name, dims, type });
    const tensors: TensorSpec[] = [{ name: "token_embd.weight", dims: [E, 1n], type: GgmlType.F32 }]; // a middle stage's placeholder, as sliceStage writes it
    for (let i = 0; i < n; i++) {
        const b = `blk.${i}.`;
        tensors.push(vector(`${b}attn_norm.weight`, E), matrix(`${b}attn_q.weight`, [E, Q]), matrix(`${b}attn_k.weight`, [E, K]),
            matrix(`${b}attn_v.weight`, [E, K]), matrix(`${b}attn_output.weight`, [Q, E]), vector(`${b}ffn_norm.weight`, E),
            matrix(`${b}ffn_gate.weight`, [E, F]), matrix(`${b}ffn_up.weight`, [E, F]), matrix(`${b}ffn_down.weight`, [F, E]));
    }
    tensors.push(vector("output_norm.weight", E));
    const layout = layoutGguf(kv, tensors, 32);
    const pattern = blockPattern(shape.type);
    const ones = Buffer.alloc(shape.embd * 4);
    for (let i = 0; i < shape.embd; i++) ones.writeFloatLE(1, i * 4);
    const writer = await SequentialFileWriter.create(out);
    let stageLayerBytes = 0;
    try {
        await writer.write(layout.header);
        for (const [i, t] of tensors.entries()) {
            options.signal?.throwIfAborted();
            await writer.padTo(layout.tensorOffsets[i]!);
            const size = Number(layout.tensorSizes[i]!);
            if (t.name.startsWith("blk.")) stageLayerBytes += size;
            if (t.type !== GgmlType.F32) {
                for (let done = 0; done < size; done += pattern.length) await writer.write(pattern.subarray(0, Math.min(pattern.length, size - done)));
            } else if (t.name.endsWith("norm.weight")) {
                await writer.write(ones);
            } else {
                await writer.write(Buffer.alloc(size));
            }
        }
        await writer.padTo(layout.end);
        await writer.close();
    } catch (e) {
        await writer.abort();
        throw e;
    }
    return { path: out, layers: n, layerBytes: stageLayerBytes / n, fileBytes: (await fs.promises.stat(out)).size };
}
