// Writes a small GGUF model with random weights and a real tokenizer, for tests and benchmarks.
// Weights are written as f32 one tensor at a time; other types are made by llama.cpp's quantizer.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { GgufType, f32, str, u32, type GgufValue } from "../gguf/format.ts";
import { GgmlType } from "../gguf/ggml-types.ts";
import { readGgufHeader } from "../gguf/reader.ts";
import { SequentialFileWriter, layoutGguf, type TensorSpec } from "../gguf/writer.ts";
import { loadAddon } from "../native/addon.ts";
import { vocabularyFile, type TestVocabulary } from "../native/vendor.ts";

/** The file types `hearth make-model --type` makes, as llama.cpp's llama_ftype values (llama.h). */
export const MODEL_TYPES = {
    f32: 0, f16: 1, bf16: 32, q8_0: 7, q6_k: 18, q5_k_m: 17, q5_k_s: 16, q5_0: 8, q5_1: 9,
    q4_k_m: 15, q4_k_s: 14, q4_0: 2, q4_1: 3, q3_k_l: 13, q3_k_m: 12, q3_k_s: 11, q2_k: 10,
    iq4_xs: 30, iq4_nl: 25, mxfp4_moe: 38
} as const;
export type ModelType = keyof typeof MODEL_TYPES;
export type TestArchitecture = "llama" | "qwen2" | "qwen3";

export interface MakeModelOptions {
    arch: TestArchitecture;
    vocab: TestVocabulary;
    layers: number;
    embd: number;
    heads: number;
    kvHeads: number;
    ff: number;
    type: ModelType;
    tied: boolean;
    seed: number;
    out: string;
    contextLength?: number;
    onProgress?: (p: { phase: "writing" | "quantizing"; bytesDone: number; bytesTotal: number }) => void;
}

/** Deterministic generator (splitmix32-seeded xorshift128+ style) of uniform floats in [-1, 1). */
class Rng {
    private a: number; private b: number; private c: number; private d: number;
    constructor(seed: number) {
        let s = seed >>> 0;
        const next = () => { s = (s + 0x9e3779b9) >>> 0; let z = s; z = Math.imul(z ^ (z >>> 16), 0x85ebca6b); z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35); return (z ^ (z >>> 16)) >>> 0; };
        this.a = next(); this.b = next(); this.c = next(); this.d = next();
    }
    /** xoshiro128+ */
    uniform(): number {
        const r = (this.a + this.d) >>> 0;
        const t = this.b << 9;
        this.c ^= this.a; this.d ^= this.b; this.b ^= this.c; this.a ^= this.d; this.c ^= t;
        this.d = (this.d << 11) | (this.d >>> 21);
        return r / 2147483648 - 1;
    }
}

// Small embeddings and large matrices: the layers, not the input token, decide the output, so that
// greedy generations of a random model vary from token to token (even with a tied head).
const EMBD_SCALE = 0.1;
const W_SCALE = 2;
interface TensorPlan extends TensorSpec { init: "normal" | "norm" | "bias"; scale: number }

function validate(o: MakeModelOptions) {
    const ints: Array<[string, number]> = [["layers", o.layers], ["embd", o.embd], ["heads", o.heads], ["kv-heads", o.kvHeads], ["ff", o.ff]];
    for (const [name, v] of ints) if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} must be a positive integer (got ${v})`);
    if (o.embd % o.heads !== 0) throw new Error(`--embd ${o.embd} must be a multiple of --heads ${o.heads}`);
    if (o.heads % o.kvHeads !== 0) throw new Error(`--heads ${o.heads} must be a multiple of --kv-heads ${o.kvHeads}`);
    if ((o.embd / o.heads) % 2 !== 0) throw new Error("the head size (embd / heads) must be even for RoPE");
    const block = /_k|iq4_xs/.test(o.type) ? 256 : 32;
    if (o.type !== "f32" && o.type !== "f16" && o.type !== "bf16" && (o.embd % block !== 0 || o.ff % block !== 0))
        throw new Error(`--embd and --ff must be multiples of ${block} to quantize to ${o.type}`);
    if (!(o.type in MODEL_TYPES)) throw new Error(`--type must be one of ${Object.keys(MODEL_TYPES).join(", ")}`);
}

export async function makeModel(o: MakeModelOptions): Promise<{ path: string; bytes: number; nVocab: number }> {
    validate(o);
    const vocab = readGgufHeader(vocabularyFile(o.vocab));
    const tokens = vocab.kv.get("tokenizer.ggml.tokens");
    if (tokens == null || tokens.type !== GgufType.ARRAY) throw new Error(`the ${o.vocab} vocabulary has no token list`);
    const nVocab = tokens.count;
    const headDim = o.embd / o.heads;
    const a = o.arch;

    const kv = new Map<string, GgufValue>();
    kv.set("general.architecture", str(a));
    kv.set("general.name", str(`hearth-test-${a}-${o.layers}x${o.embd}-${o.vocab}`));
    kv.set("general.file_type", u32(0));
    kv.set(`${a}.context_length`, u32(o.contextLength ?? 4096));
    kv.set(`${a}.embedding_length`, u32(o.embd));
    kv.set(`${a}.block_count`, u32(o.layers));
    kv.set(`${a}.feed_forward_length`, u32(o.ff));
    kv.set(`${a}.attention.head_count`, u32(o.heads));
    kv.set(`${a}.attention.head_count_kv`, u32(o.kvHeads));
    kv.set(`${a}.attention.layer_norm_rms_epsilon`, f32(a === "llama" ? 1e-5 : 1e-6));
    kv.set(`${a}.rope.freq_base`, f32(a === "llama" ? 10000 : 1000000));
    kv.set(`${a}.rope.dimension_count`, u32(headDim));
    if (a === "qwen3") { kv.set(`${a}.attention.key_length`, u32(headDim)); kv.set(`${a}.attention.value_length`, u32(headDim)); }
    kv.set(`${a}.vocab_size`, u32(nVocab));
    for (const [key, value] of vocab.kv) if (key.startsWith("tokenizer.")) kv.set(key, value);

    const E = BigInt(o.embd), V = BigInt(nVocab), F = BigInt(o.ff), Q = BigInt(o.heads * headDim), K = BigInt(o.kvHeads * headDim);
    const w = (name: string, dims: bigint[]): TensorPlan => ({ name, dims, type: GgmlType.F32, init: "normal", scale: W_SCALE / Math.sqrt(Number(dims[0])) });
    const norm = (name: string, n: bigint): TensorPlan => ({ name, dims: [n], type: GgmlType.F32, init: "norm", scale: 0.1 });
    const bias = (name: string, n: bigint): TensorPlan => ({ name, dims: [n], type: GgmlType.F32, init: "bias", scale: 0.1 });
    const plan: TensorPlan[] = [{ name: "token_embd.weight", dims: [E, V], type: GgmlType.F32, init: "normal", scale: EMBD_SCALE }];
    for (let i = 0; i < o.layers; i++) {
        const p = `blk.${i}.`;
        plan.push(norm(`${p}attn_norm.weight`, E), w(`${p}attn_q.weight`, [E, Q]), w(`${p}attn_k.weight`, [E, K]), w(`${p}attn_v.weight`, [E, K]));
        if (a === "qwen2") plan.push(bias(`${p}attn_q.bias`, Q), bias(`${p}attn_k.bias`, K), bias(`${p}attn_v.bias`, K));
        if (a === "qwen3") plan.push(norm(`${p}attn_q_norm.weight`, BigInt(headDim)), norm(`${p}attn_k_norm.weight`, BigInt(headDim)));
        plan.push(w(`${p}attn_output.weight`, [Q, E]), norm(`${p}ffn_norm.weight`, E),
            w(`${p}ffn_gate.weight`, [E, F]), w(`${p}ffn_up.weight`, [E, F]), w(`${p}ffn_down.weight`, [F, E]));
    }
    plan.push(norm("output_norm.weight", E));
    if (!o.tied) plan.push(w("output.weight", [E, V]));

    const layout = layoutGguf(kv, plan, 32);
    const total = Number(layout.tensorSizes.reduce((x, y) => x + y, 0n));
    await fs.promises.mkdir(path.dirname(path.resolve(o.out)), { recursive: true });
    const f32Path = o.type === "f32" ? o.out : path.join(os.tmpdir(), `hearth-make-model-${process.pid}-${Date.now()}.f32.gguf`);
    const out = await SequentialFileWriter.create(f32Path);
    try {
        await out.write(layout.header);
        const chunk = new Float32Array(1 << 20);
        let done = 0;
        for (const [i, t] of plan.entries()) {
            await out.padTo(layout.tensorOffsets[i]!);
            const rng = new Rng((o.seed * 1000003 + i * 7919) >>> 0);
            let left = Number(t.dims.reduce((x, y) => x * y, 1n));
            while (left > 0) {
                const n = Math.min(left, chunk.length);
                for (let j = 0; j < n; j++) {
                    const u = rng.uniform();
                    chunk[j] = t.init === "norm" ? 1 + t.scale * u : t.scale * Math.sqrt(3) * u; // uniform with std = scale
                }
                await out.write(new Uint8Array(chunk.buffer, 0, n * 4));
                left -= n;
                done += n * 4;
                o.onProgress?.({ phase: "writing", bytesDone: done, bytesTotal: total });
            }
        }
        await out.padTo(layout.end);
        await out.close();
    } catch (e) {
        await out.abort();
        throw e;
    }
    if (o.type !== "f32") {
        try {
            o.onProgress?.({ phase: "quantizing", bytesDone: 0, bytesTotal: total });
            const addon = await loadAddon();
            await addon.quantize(f32Path, o.out, MODEL_TYPES[o.type], os.availableParallelism());
            o.onProgress?.({ phase: "quantizing", bytesDone: total, bytesTotal: total });
        } finally {
            await fs.promises.rm(f32Path, { force: true });
        }
    }
    return { path: o.out, bytes: (await fs.promises.stat(o.out)).size, nVocab };
}
