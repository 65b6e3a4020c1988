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
export const TEST_ARCHITECTURES = ["llama", "qwen2", "qwen3", "qwen3moe", "phi3", "mistral3", "gemma2", "gemma3", "gpt-oss", "qwen2moe", "olmoe"] as const;
export type TestArchitecture = (typeof TEST_ARCHITECTURES)[number];

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
    /** mixture-of-experts architectures (qwen3moe, gpt-oss, qwen2moe, olmoe): experts per layer (default 4), used per token (2), their FFN size (ff) */
    experts?: number;
    expertsUsed?: number;
    expertFf?: number;
    /** qwen2moe: the shared expert's FFN size (default ff) */
    sharedExpertFf?: number;
    /** sliding-window architectures (gemma2, gemma3, gpt-oss): window size in tokens (default 8; 0 writes no window: gemma3 then has none) */
    slidingWindow?: number;
    /** gemma2/gemma3: attention.sliding_window_pattern (llama.cpp's default when unset: 2 for gemma2, 6 for gemma3) */
    swaPattern?: number;
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
    if (!(TEST_ARCHITECTURES as readonly string[]).includes(o.arch)) throw new Error(`--arch must be one of ${TEST_ARCHITECTURES.join(", ")} (got ${o.arch})`);
    if (o.arch === "gemma2" && !o.tied) throw new Error("gemma2 always ties its output head to the token embeddings: use --tied");
    if ((o.arch === "gpt-oss" || o.arch === "qwen2moe" || o.arch === "olmoe") && o.tied) throw new Error(`${o.arch} has a separate output head: leave out --tied`);
    // OLMoE's q/k norms span all heads ({n_embd}), so llama.cpp needs as many KV heads as heads
    if (o.arch === "olmoe" && o.kvHeads !== o.heads) throw new Error(`olmoe needs --kv-heads equal to --heads (${o.heads}): its k norm is n_embd wide`);
    for (const [name, v] of [["experts", o.experts], ["experts-used", o.expertsUsed], ["expert-ff", o.expertFf], ["shared-expert-ff", o.sharedExpertFf]] as const)
        if (v != null && (!Number.isInteger(v) || v <= 0)) throw new Error(`--${name} must be a positive integer (got ${v})`);
    if (o.slidingWindow != null && (!Number.isInteger(o.slidingWindow) || o.slidingWindow < 0 || (o.slidingWindow === 0 && o.arch === "gpt-oss")))
        throw new Error(`--sliding-window must be ${o.arch === "gpt-oss" ? "a positive integer for gpt-oss" : "an integer >= 0 (0: none)"} (got ${o.slidingWindow})`);
    if ((o.expertsUsed ?? 2) > (o.experts ?? 4)) throw new Error(`--experts-used ${o.expertsUsed ?? 2} must not exceed --experts ${o.experts ?? 4}`);
    if (o.swaPattern != null && (!Number.isInteger(o.swaPattern) || o.swaPattern < 0)) throw new Error(`--swa-pattern must be an integer >= 0 (got ${o.swaPattern})`);
    if (!Object.hasOwn(MODEL_TYPES, o.type)) throw new Error(`--type must be one of ${Object.keys(MODEL_TYPES).join(", ")} (got ${o.type})`);
    // Every layer matrix and the token table have rows of embd or ff elements; llama.cpp's quantizer
    // silently gives a tensor whose rows do not fit the type's block another type (test/quantizations.test.ts).
    const block = /_k|iq4_xs/.test(o.type) ? 256 : 32;
    if (o.type !== "f32" && o.type !== "f16" && o.type !== "bf16" && (o.embd % block !== 0 || o.ff % block !== 0))
        throw new Error(`--embd and --ff must be multiples of ${block} to quantize to ${o.type} (got ${o.embd} and ${o.ff})`);
}

/** What llama.cpp's quantizer made, checked where it silently makes something else than asked. */
async function checkQuantized(o: MakeModelOptions) {
    if (o.type !== "mxfp4_moe" || readGgufHeader(o.out).tensors.some((t) => t.type === MXFP4)) return;
    await fs.promises.rm(o.out, { force: true });
    throw new Error(`--type mxfp4_moe quantizes only mixture-of-experts tensors (ffn_*_exps) to MXFP4, and this ${o.arch} model has none ` +
        "(llama.cpp would make every other tensor Q8_0): choose q8_0, or a mixture-of-experts architecture");
}
const MXFP4 = 39; // ggml_type GGML_TYPE_MXFP4

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
    const moe = a === "qwen3moe" || a === "gpt-oss" || a === "qwen2moe" || a === "olmoe";
    const X = o.experts ?? 4, XUsed = o.expertsUsed ?? 2, Fe = o.expertFf ?? o.ff, Fs = o.sharedExpertFf ?? o.ff;
    const swa = a === "gemma2" || a === "gemma3" || a === "gpt-oss";
    // OLMoE's expert matrices are feed_forward_length wide (llama.cpp reads no expert_feed_forward_length for it)
    kv.set(`${a}.feed_forward_length`, u32(a === "olmoe" ? Fe : o.ff));
    kv.set(`${a}.attention.head_count`, u32(o.heads));
    kv.set(`${a}.attention.head_count_kv`, u32(o.kvHeads));
    kv.set(`${a}.attention.layer_norm_rms_epsilon`, f32(a === "llama" || a === "phi3" || a === "mistral3" || a === "gpt-oss" || a === "olmoe" ? 1e-5 : 1e-6));
    kv.set(`${a}.rope.freq_base`, f32(a === "llama" || a === "phi3" || a === "gemma2" || a === "olmoe" ? 10000 : a === "gpt-oss" ? 150000 : 1000000));
    kv.set(`${a}.rope.dimension_count`, u32(headDim));
    if (a !== "llama" && a !== "qwen2" && a !== "phi3" && a !== "qwen2moe" && a !== "olmoe") { kv.set(`${a}.attention.key_length`, u32(headDim)); kv.set(`${a}.attention.value_length`, u32(headDim)); }
    if (moe) {
        kv.set(`${a}.expert_count`, u32(X));
        kv.set(`${a}.expert_used_count`, u32(XUsed));
        if (a !== "olmoe") kv.set(`${a}.expert_feed_forward_length`, u32(Fe));
    }
    if (a === "qwen2moe") kv.set(`${a}.expert_shared_feed_forward_length`, u32(Fs));
    if (swa && o.slidingWindow !== 0) kv.set(`${a}.attention.sliding_window`, u32(o.slidingWindow ?? 8));
    if (a === "gemma3") {
        if (o.swaPattern != null) kv.set(`${a}.attention.sliding_window_pattern`, u32(o.swaPattern));
        kv.set(`${a}.rope.freq_base_swa`, f32(10000));
    }
    if (a === "gemma2") {
        if (o.swaPattern != null) kv.set(`${a}.attention.sliding_window_pattern`, u32(o.swaPattern));
        kv.set(`${a}.attn_logit_softcapping`, f32(50));
        kv.set(`${a}.final_logit_softcapping`, f32(30));
    }
    if (a === "mistral3") {
        // Ministral 3's long-context setup: YaRN from a (here tiny) original context and llama 4's
        // attention temperature, which grows with the position past that context.
        kv.set(`${a}.rope.scaling.type`, str("yarn"));
        kv.set(`${a}.rope.scaling.factor`, f32(4));
        kv.set(`${a}.rope.scaling.original_context_length`, u32(16));
        kv.set(`${a}.attention.temperature_scale`, f32(0.1));
    }
    if (a === "gpt-oss") {
        kv.set(`${a}.rope.scaling.type`, str("yarn"));
        kv.set(`${a}.rope.scaling.factor`, f32(32));
        kv.set(`${a}.rope.scaling.original_context_length`, u32(4096));
    }
    kv.set(`${a}.vocab_size`, u32(nVocab));
    for (const [key, value] of vocab.kv) if (key.startsWith("tokenizer.")) kv.set(key, value);

    const E = BigInt(o.embd), V = BigInt(nVocab), F = BigInt(o.ff), Q = BigInt(o.heads * headDim), K = BigInt(o.kvHeads * headDim), D = BigInt(headDim);
    const BX = BigInt(X), BFe = BigInt(Fe), BFs = BigInt(Fs);
    const w = (name: string, dims: bigint[]): TensorPlan => ({ name, dims, type: GgmlType.F32, init: "normal", scale: W_SCALE / Math.sqrt(Number(dims[0])) });
    const norm = (name: string, n: bigint): TensorPlan => ({ name, dims: [n], type: GgmlType.F32, init: "norm", scale: 0.1 });
    const bias = (name: string, ...dims: bigint[]): TensorPlan => ({ name, dims, type: GgmlType.F32, init: "bias", scale: 0.1 });
    // Gemma's graph multiplies the embeddings by sqrt(n_embd): its table is that much smaller, as in trained Gemmas.
    const embdScale = a === "gemma2" || a === "gemma3" ? EMBD_SCALE / Math.sqrt(o.embd) : EMBD_SCALE;
    const plan: TensorPlan[] = [{ name: "token_embd.weight", dims: [E, V], type: GgmlType.F32, init: "normal", scale: embdScale }];
    for (let i = 0; i < o.layers; i++) {
        const p = `blk.${i}.`;
        plan.push(norm(`${p}attn_norm.weight`, E));
        if (a === "gpt-oss") plan.push(norm(`${p}post_attention_norm.weight`, E));
        // Phi-3 files carry one fused projection; the others three
        if (a === "phi3") plan.push(w(`${p}attn_qkv.weight`, [E, Q + 2n * K]));
        else plan.push(w(`${p}attn_q.weight`, [E, Q]), w(`${p}attn_k.weight`, [E, K]), w(`${p}attn_v.weight`, [E, K]));
        if (a === "qwen2" || a === "gpt-oss" || a === "qwen2moe") plan.push(bias(`${p}attn_q.bias`, Q), bias(`${p}attn_k.bias`, K), bias(`${p}attn_v.bias`, K));
        if (a === "qwen3" || a === "qwen3moe" || a === "gemma3") plan.push(norm(`${p}attn_q_norm.weight`, D), norm(`${p}attn_k_norm.weight`, D));
        if (a === "olmoe") plan.push(norm(`${p}attn_q_norm.weight`, Q), norm(`${p}attn_k_norm.weight`, K));
        plan.push(w(`${p}attn_output.weight`, [Q, E]));
        if (a === "gpt-oss") plan.push(bias(`${p}attn_output.bias`, E), { ...bias(`${p}attn_sinks.weight`, BigInt(o.heads)), scale: 1 });
        if (a === "gemma2" || a === "gemma3") plan.push(norm(`${p}post_attention_norm.weight`, E));
        if (a !== "gpt-oss") plan.push(norm(`${p}ffn_norm.weight`, E));
        if (moe) {
            plan.push(w(`${p}ffn_gate_inp.weight`, [E, BX]), w(`${p}ffn_gate_exps.weight`, [E, BFe, BX]),
                w(`${p}ffn_down_exps.weight`, [BFe, E, BX]), w(`${p}ffn_up_exps.weight`, [E, BFe, BX]));
            if (a === "qwen2moe")
                plan.push(w(`${p}ffn_gate_inp_shexp.weight`, [E]), w(`${p}ffn_gate_shexp.weight`, [E, BFs]), w(`${p}ffn_down_shexp.weight`, [BFs, E]), w(`${p}ffn_up_shexp.weight`, [E, BFs]));
            if (a === "gpt-oss") plan.push(bias(`${p}ffn_gate_inp.bias`, BX), bias(`${p}ffn_gate_exps.bias`, BFe, BX), bias(`${p}ffn_down_exps.bias`, E, BX), bias(`${p}ffn_up_exps.bias`, BFe, BX));
        } else if (a === "phi3") {
            plan.push(w(`${p}ffn_up.weight`, [E, 2n * F]), w(`${p}ffn_down.weight`, [F, E]));
        } else {
            plan.push(w(`${p}ffn_gate.weight`, [E, F]), w(`${p}ffn_up.weight`, [E, F]), w(`${p}ffn_down.weight`, [F, E]));
        }
        if (a === "gemma2" || a === "gemma3") plan.push(norm(`${p}post_ffw_norm.weight`, E));
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
            await checkQuantized(o);
            o.onProgress?.({ phase: "quantizing", bytesDone: total, bytesTotal: total });
        } finally {
            await fs.promises.rm(f32Path, { force: true });
        }
    }
    return { path: o.out, bytes: (await fs.promises.stat(o.out)).size, nVocab };
}
