// Checks a model or stage file's header before llama.cpp sees it: llama.cpp aborts the whole
// process on many inconsistencies (GGML_ASSERT), so everything it would assert on is refused here
// with one clear line naming the file and the problem.
//
// The rules follow the llama.cpp that node-llama-cpp links (src/llama-model.cpp load_hparams,
// models/{llama,qwen2,qwen3}.cpp, src/llama-vocab.cpp load, native/src/stage.cc): every hparam is
// bounded, the tensor set is exactly what the architecture's loader creates (names, shapes, types),
// the tokenizer arrays are consistent, and a stage's input table lies inside the file.
import { GgufType, type GgufHeader, type GgufValue } from "../gguf/format.ts";
import { GGML_TYPES } from "../gguf/ggml-types.ts";
import { ARCHITECTURE_TRAITS, SUPPORTED_ARCHITECTURES, checkArchitectureSupported, type SupportedArchitecture } from "./architectures.ts";
import { STAGE_FORMAT_VERSION } from "./slice.ts"; // read at check time, so the import cycle is harmless

export class ModelFileError extends Error {
    constructor(readonly file: string, readonly problem: string) {
        super(`${file}: ${problem}`);
        this.name = "ModelFileError";
    }
}

export interface ModelCheckOptions {
    /** "model": a whole model (tokenizer and all layers); "stage": a Hearth stage file; "vocab": a vocabulary-only load */
    role: "model" | "stage" | "vocab";
}

/** Plausible maxima: far above any real model, far below what would make llama.cpp allocate absurdly. */
export const LIMITS = {
    embd: 65536,
    heads: 1024,
    headDim: 4096,
    ff: 1 << 20,
    /** LLAMA_MAX_LAYERS: load_hparams asserts n_layer_all <= 512 */
    layers: 512,
    /** layers of the model a stage came from */
    totalLayers: 4096,
    vocab: 1 << 21,
    context: 1 << 24,
    tokenBytes: 1 << 16,
    merges: 1 << 23,
    inputRows: 2 ** 31 - 1
} as const;

const MODEL_HINT = "the file is damaged or was not made for this llama.cpp; download or convert it again";
const STAGE_HINT = "the stage file is damaged or was not made by this Hearth version; slice it again from the model";

/** ggml types the CPU backend can multiply with and dequantize (ggml-cpu type traits with vec_dot and to_float). */
export const MATRIX_TYPES: ReadonlySet<number> = new Set([
    0, 1, 30, // f32, f16, bf16
    2, 3, 6, 7, 8, // q4_0, q4_1, q5_0, q5_1, q8_0
    10, 11, 12, 13, 14, // q2_K .. q6_K
    16, 17, 18, 19, 20, 21, 22, 23, 29, // iq2_xxs, iq2_xs, iq3_xxs, iq1_s, iq4_nl, iq3_s, iq2_s, iq4_xs, iq1_m
    34, 35, 39 // tq1_0, tq2_0, mxfp4
]);

const TOKENIZER_MODELS = ["llama", "gpt2"] as const;

const SPECIAL_TOKEN_KEYS = [
    "bos", "eos", "eot", "eom", "unknown", "seperator", "padding", "mask",
    "fim_pre", "fim_suf", "fim_mid", "fim_pad", "fim_rep", "fim_sep", "prefix", "suffix", "middle"
].map((k) => `tokenizer.ggml.${k}_token_id`);

const TYPE_NAMES: Record<number, string> = {
    0: "uint8", 1: "int8", 2: "uint16", 3: "int16", 4: "uint32", 5: "int32", 6: "float32", 7: "bool",
    8: "string", 9: "array", 10: "uint64", 11: "int64", 12: "float64"
};

/** Text taken from the file, made safe for a one-line message. */
function shown(s: string): string {
    const clipped = s.length > 80 ? `${s.slice(0, 80)}…` : s;
    return JSON.stringify(clipped).slice(1, -1);
}

function ggmlName(type: number): string {
    return GGML_TYPES.get(type)?.name ?? String(type);
}

function dimsText(dims: readonly bigint[]): string {
    return `[${dims.join(", ")}]`;
}

/** Dims padded with 1s to 4, as llama.cpp compares them. */
function sameDims(a: readonly bigint[], b: readonly bigint[]): boolean {
    for (let i = 0; i < 4; i++) if ((a[i] ?? 1n) !== (b[i] ?? 1n)) return false;
    return true;
}

interface ExpectedTensor { dims: bigint[]; vector: boolean; required: boolean }

class Checker {
    constructor(readonly h: GgufHeader, readonly file: string, readonly hint: string) {}

    fail(problem: string): never {
        throw new ModelFileError(this.file, `${problem} (${this.hint})`);
    }

    value(key: string): GgufValue | undefined { return this.h.kv.get(key); }

    typeName(v: GgufValue): string {
        return v.type === GgufType.ARRAY ? `array of ${TYPE_NAMES[v.itemType] ?? v.itemType}` : (TYPE_NAMES[v.type] ?? String(v.type));
    }

    expectType(key: string, v: GgufValue, type: GgufType): void {
        if (v.type !== type) this.fail(`metadata ${key} is ${this.typeName(v)}, expected ${TYPE_NAMES[type]}`);
    }

    str(key: string, required: true): string;
    str(key: string, required: false): string | undefined;
    str(key: string, required: boolean): string | undefined {
        const v = this.value(key);
        if (v == null) { if (required) this.fail(`metadata ${key} is missing`); return undefined; }
        this.expectType(key, v, GgufType.STRING);
        return (v as { value: Buffer }).value.toString("utf8");
    }

    /** An integer key of exactly type `type` (llama.cpp reads uint32 keys only from uint32 values). */
    int(key: string, required: true, min: number, max: number, type?: GgufType): number;
    int(key: string, required: false, min: number, max: number, type?: GgufType): number | undefined;
    int(key: string, required: boolean, min: number, max: number, type: GgufType = GgufType.UINT32): number | undefined {
        const v = this.value(key);
        if (v == null) { if (required) this.fail(`metadata ${key} is missing`); return undefined; }
        this.expectType(key, v, type);
        const n = (v as { value: number | bigint }).value;
        if (typeof n === "bigint" ? n < BigInt(min) || n > BigInt(max) : !(n >= min && n <= max))
            this.fail(`metadata ${key} is ${n}, expected ${min === max ? min : `${min} to ${max}`}`);
        return Number(n);
    }

    float(key: string, required: boolean, ok: (x: number) => boolean, expected: string): number | undefined {
        const v = this.value(key);
        if (v == null) { if (required) this.fail(`metadata ${key} is missing`); return undefined; }
        this.expectType(key, v, GgufType.FLOAT32);
        const x = (v as { value: number }).value;
        if (!Number.isFinite(x) || !ok(x)) this.fail(`metadata ${key} is ${x}, expected ${expected}`);
        return x;
    }

    bool(key: string): boolean | undefined {
        const v = this.value(key);
        if (v == null) return undefined;
        this.expectType(key, v, GgufType.BOOL);
        return (v as { value: boolean }).value;
    }

    /** A per-layer value: a uint32, or an array of one uint32/int32 per layer, all equal (the graph builders use layer 0's value for every layer). */
    perLayer(key: string, required: boolean, nLayer: number, min: number, max: number): number | undefined {
        const v = this.value(key);
        if (v == null) { if (required) this.fail(`metadata ${key} is missing`); return undefined; }
        if (v.type !== GgufType.ARRAY) return this.int(key, required as true, min, max);
        if (v.itemType !== GgufType.UINT32 && v.itemType !== GgufType.INT32)
            this.fail(`metadata ${key} is ${this.typeName(v)}, expected uint32 or an array of uint32`);
        if (v.count !== nLayer) this.fail(`metadata ${key} has ${v.count} values, expected one per layer (${nLayer})`);
        let first = 0;
        for (let i = 0; i < v.count; i++) {
            const n = v.itemType === GgufType.UINT32 ? v.raw.readUInt32LE(i * 4) : v.raw.readInt32LE(i * 4);
            if (n < min || n > max) this.fail(`metadata ${key}[${i}] is ${n}, expected ${min} to ${max}`);
            if (i === 0) first = n;
            else if (n !== first) this.fail(`metadata ${key}[${i}] is ${n} but layer 0 has ${first}: layers of different sizes are not supported for this architecture`);
        }
        return first;
    }
}

/** Reads the items of a string array without copying: [start, end) byte ranges into raw. */
function stringRanges(c: Checker, key: string, v: GgufValue & { type: GgufType.ARRAY }, maxLen: number): Array<[number, number]> {
    const out: Array<[number, number]> = new Array(v.count);
    const b = v.raw;
    let p = 0;
    for (let i = 0; i < v.count; i++) {
        const n = b.readBigUInt64LE(p);
        p += 8;
        if (n > BigInt(maxLen)) c.fail(`metadata ${key}[${i}] is a string of ${n} bytes, expected at most ${maxLen}`);
        out[i] = [p, p + Number(n)];
        p += Number(n);
    }
    return out;
}

/** The tokenizer: returns the number of tokens (tensor rows), or null for tokenizer model "none". */
function checkTokenizer(c: Checker, arch: string, allowNone: boolean): number | null {
    const model = c.str("tokenizer.ggml.model", true);
    if (model === "none" || model === "no_vocab") {
        if (!allowNone) c.fail(`tokenizer.ggml.model is '${shown(model)}': this file has no vocabulary, expected one of ${TOKENIZER_MODELS.join(", ")}`);
        // llama.cpp makes vocab_size dummy tokens (llama-vocab.cpp: id_to_token.resize(n_tokens))
        return c.int(`${arch}.vocab_size`, true, 1, LIMITS.vocab);
    }
    if (!(TOKENIZER_MODELS as readonly string[]).includes(model))
        c.fail(`tokenizer.ggml.model is '${shown(model)}', expected one of ${TOKENIZER_MODELS.join(", ")}${allowNone ? " or none" : ""}`);
    c.str("tokenizer.ggml.pre", false);

    const tokensKey = "tokenizer.ggml.tokens";
    const tokens = c.value(tokensKey);
    if (tokens == null) c.fail(`metadata ${tokensKey} is missing`);
    if (tokens.type !== GgufType.ARRAY || tokens.itemType !== GgufType.STRING) c.fail(`metadata ${tokensKey} is ${c.typeName(tokens)}, expected array of string`);
    const n = tokens.count;
    if (n < 1 || n > LIMITS.vocab) c.fail(`metadata ${tokensKey} has ${n} tokens, expected 1 to ${LIMITS.vocab}`);
    const ranges = stringRanges(c, tokensKey, tokens, LIMITS.tokenBytes);
    // llama-vocab.cpp asserts id_to_token.size() == token_to_id.size(): every token text (empty ones
    // become "[EMPTY_<id>]") must be unique.
    const seen = new Map<string, number>();
    const text = (i: number) => { const [s, e] = ranges[i]!; return e === s ? `[EMPTY_${i}]` : tokens.raw.toString("latin1", s, e); };
    for (let i = 0; i < n; i++) {
        const t = text(i);
        const prev = seen.get(t);
        if (prev != null) c.fail(`metadata ${tokensKey}: token ${i} '${shown(Buffer.from(t, "latin1").toString("utf8"))}' repeats token ${prev}`);
        seen.set(t, i);
    }

    // SPM byte fallback (llama-vocab.cpp byte_to_token) looks up "<0xHH>", then the byte itself,
    // with std::map::at: a missing byte token throws out of llama_tokenize and terminates the process.
    if (model === "llama")
        for (let b = 0; b < 256; b++) {
            const hex = `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;
            if (!seen.has(hex) && !seen.has(String.fromCharCode(b)))
                c.fail(`metadata ${tokensKey} has no byte token ${hex}: the llama (SPM) tokenizer needs one for every byte`);
        }

    const scores = c.value("tokenizer.ggml.scores");
    if (scores != null) {
        if (scores.type !== GgufType.ARRAY || (scores.itemType !== GgufType.FLOAT32 && scores.itemType !== GgufType.INT32))
            c.fail(`metadata tokenizer.ggml.scores is ${c.typeName(scores)}, expected array of float32`);
        if (scores.count !== n) c.fail(`metadata tokenizer.ggml.scores has ${scores.count} values, expected one per token (${n})`);
        if (scores.itemType === GgufType.FLOAT32)
            for (let i = 0; i < n; i++) {
                const x = scores.raw.readFloatLE(i * 4);
                if (!Number.isFinite(x)) c.fail(`metadata tokenizer.ggml.scores[${i}] is ${x}, expected a finite number`);
            }
    }
    const types = c.value("tokenizer.ggml.token_type");
    if (types != null) {
        if (types.type !== GgufType.ARRAY || types.itemType !== GgufType.INT32)
            c.fail(`metadata tokenizer.ggml.token_type is ${c.typeName(types)}, expected array of int32`);
        if (types.count !== n) c.fail(`metadata tokenizer.ggml.token_type has ${types.count} values, expected one per token (${n})`);
        for (let i = 0; i < n; i++) {
            const t = types.raw.readInt32LE(i * 4);
            if (t < 0 || t > 6) c.fail(`metadata tokenizer.ggml.token_type[${i}] is ${t}, expected 0 to 6`);
            // byte tokens are decoded from their text "<0xHH>" (llama-vocab.cpp token_to_byte: substr(3, 2))
            if (t === 6 && !/^<0x[0-9A-Fa-f]{2}>$/.test(text(i)))
                c.fail(`metadata tokenizer.ggml.token_type[${i}] marks '${shown(text(i))}' as a byte token, but byte tokens are written <0xHH>`);
        }
    }
    if (model === "gpt2") {
        const mk = "tokenizer.ggml.merges";
        const merges = c.value(mk);
        if (merges == null) c.fail(`metadata ${mk} is missing: a gpt2 (BPE) tokenizer needs its merges`);
        if (merges.type !== GgufType.ARRAY || merges.itemType !== GgufType.STRING) c.fail(`metadata ${mk} is ${c.typeName(merges)}, expected array of string`);
        if (merges.count > LIMITS.merges) c.fail(`metadata ${mk} has ${merges.count} merges, expected at most ${LIMITS.merges}`);
        stringRanges(c, mk, merges, LIMITS.tokenBytes);
    }

    // Special token ids are read as uint32 (another type throws); llama.cpp replaces an id past the
    // vocabulary by its default (with a warning), which real files rely on (e.g. a padding id = n).
    const ids = new Map<string, number>();
    for (const key of SPECIAL_TOKEN_KEYS) {
        const id = c.int(key, false, 0, 2 ** 32 - 1);
        if (id != null) ids.set(key, id);
    }
    // llama-vocab.cpp tokenize asserts special_bos_id / special_eos_id != NULL when they are added.
    const defaults = model === "llama" ? { bos: 1, eos: 2 } : { bos: 11, eos: 11 };
    const addBos = c.bool("tokenizer.ggml.add_bos_token");
    const addEos = c.bool("tokenizer.ggml.add_eos_token");
    c.bool("tokenizer.ggml.add_sep_token");
    c.bool("tokenizer.ggml.add_space_prefix");
    c.bool("tokenizer.ggml.remove_extra_whitespaces");
    const resolvable = (which: "bos" | "eos") => {
        const id = ids.get(`tokenizer.ggml.${which}_token_id`);
        return (id != null && id < n) || defaults[which] < n;
    };
    const what = (which: "bos" | "eos") => {
        const id = ids.get(`tokenizer.ggml.${which}_token_id`);
        return id == null ? `metadata tokenizer.ggml.${which}_token_id is missing and its default ${defaults[which]} is past the ${n} tokens`
            : `metadata tokenizer.ggml.${which}_token_id ${id} and its default ${defaults[which]} are past the ${n} tokens`;
    };
    if (addBos !== false && !resolvable("bos")) c.fail(`${what("bos")}, but BOS may be added: the tokenizer would assert`);
    if (addEos === true && !resolvable("eos")) c.fail(`${what("eos")}, but EOS is added: the tokenizer would assert`);
    return n;
}

interface StageInfo { start: number; end: number; total: number; first: boolean; last: boolean }

function checkStageKeys(c: Checker, nLayer: number): StageInfo {
    c.int("hearth.stage.version", true, STAGE_FORMAT_VERSION, STAGE_FORMAT_VERSION);
    const total = c.int("hearth.stage.layer_total", true, 1, LIMITS.totalLayers);
    const start = c.int("hearth.stage.layer_start", true, 0, total - 1);
    const end = c.int("hearth.stage.layer_end", true, start + 1, total);
    if (end - start !== nLayer) c.fail(`stage covers layers ${start}-${end} but its block_count is ${nLayer}, expected ${end - start}`);
    const first = c.bool("hearth.stage.first");
    const last = c.bool("hearth.stage.last");
    if (first == null) c.fail("metadata hearth.stage.first is missing");
    if (last == null) c.fail("metadata hearth.stage.last is missing");
    if (first !== (start === 0)) c.fail(`metadata hearth.stage.first is ${first} but the stage starts at layer ${start}`);
    if (last !== (end === total)) c.fail(`metadata hearth.stage.last is ${last} but the stage ends at layer ${end} of ${total}`);
    return { start, end, total, first, last };
}

/**
 * Gemma's input scaling (architectures.ts inputScale): the keys that make a stage undo or apply it
 * (native/src/stage.cc) must be exactly where slice.ts puts them; a stage without them would
 * compute silently wrong hidden states.
 */
function checkInputScaleKeys(c: Checker, arch: SupportedArchitecture, stage: StageInfo | null) {
    const mode = ARCHITECTURE_TRAITS[arch].inputScale;
    const wantScale = stage != null && stage.first && mode === "tokens";
    const wantRestore = stage != null && !stage.first && mode === "always";
    const scale = c.bool("hearth.stage.scale_input");
    if (scale != null && (!scale || !wantScale)) c.fail(`metadata hearth.stage.scale_input is present, but only the first stage of a gemma3 model scales its input (as true)`);
    if (wantScale && scale == null) c.fail(`metadata hearth.stage.scale_input is missing: the first stage of a ${arch} model must scale its input embeddings as the graph does`);
    const restore = c.str("hearth.stage.restore_input", false);
    if (restore != null && (!wantRestore || restore !== "inp_scaled"))
        c.fail(`metadata hearth.stage.restore_input is '${shown(restore)}', but only a later stage of a gemma2 model restores its input, over 'inp_scaled'`);
    if (wantRestore && restore == null) c.fail(`metadata hearth.stage.restore_input is missing: a later stage of a ${arch} model must undo the graph's input scaling`);
}

/** The tensors llama.cpp's loader creates for this architecture (models/<arch>.cpp load_arch_tensors). */
function expectedTensors(arch: string, p: { E: bigint; V: bigint; F: bigint; H: bigint; Hkv: bigint; Dk: bigint; Dv: bigint; nLayer: number }) {
    const m = new Map<string, ExpectedTensor>();
    const vec = (name: string, n: bigint, required = true) => m.set(name, { dims: [n], vector: true, required });
    const mat = (name: string, dims: bigint[], required = true) => m.set(name, { dims, vector: false, required });
    const { E, V, F, H, Hkv, Dk, Dv } = p;
    const Q = arch === "qwen2" ? E : Dk * H;
    const K = Dk * Hkv, Vv = Dv * Hkv;
    mat("token_embd.weight", [E, V]);
    vec("output_norm.weight", E);
    mat("output.weight", [E, V], false);
    if (arch === "qwen2") vec("output.bias", V, false);
    if (arch === "llama") vec("rope_freqs.weight", Dk / 2n, false);
    for (let i = 0; i < p.nLayer; i++) {
        const b = `blk.${i}.`;
        vec(`${b}attn_norm.weight`, E);
        mat(`${b}attn_q.weight`, [E, Q]);
        mat(`${b}attn_k.weight`, [E, arch === "qwen2" ? Vv : K]);
        mat(`${b}attn_v.weight`, [E, Vv]);
        vec(`${b}attn_q.bias`, Q, false);
        vec(`${b}attn_k.bias`, arch === "qwen2" ? Vv : K, false);
        vec(`${b}attn_v.bias`, Vv, false);
        mat(`${b}attn_output.weight`, [Q, E]);
        if (arch === "llama") vec(`${b}attn_output.bias`, E, false);
        if (arch === "qwen3") { vec(`${b}attn_q_norm.weight`, Dk); vec(`${b}attn_k_norm.weight`, Dk); }
        vec(`${b}ffn_norm.weight`, E);
        mat(`${b}ffn_gate.weight`, [E, F]);
        mat(`${b}ffn_up.weight`, [E, F]);
        mat(`${b}ffn_down.weight`, [F, E]);
        if (arch === "llama") { vec(`${b}ffn_gate.bias`, F, false); vec(`${b}ffn_up.bias`, F, false); vec(`${b}ffn_down.bias`, E, false); }
    }
    return m;
}

interface ShapeParams { E: bigint; V: bigint; F: bigint; H: bigint; Hkv: bigint; Dk: bigint; Dv: bigint; nRot: bigint; X: bigint; Fe: bigint; Fs: bigint; nLayer: number }

/**
 * The tensors of the architectures enabled after the first three (src/models/<arch>.cpp
 * load_arch_tensors). Attention goes through create_tensor_qkv: either blk.N.attn_qkv or the three
 * projections (checked after presence), each with optional biases.
 */
function expectedTensorsMore(arch: SupportedArchitecture, p: ShapeParams) {
    const m = new Map<string, ExpectedTensor>();
    const vec = (name: string, n: bigint, required = true) => m.set(name, { dims: [n], vector: true, required });
    const bias2 = (name: string, dims: bigint[], required = true) => m.set(name, { dims, vector: true, required });
    const mat = (name: string, dims: bigint[], required = true) => m.set(name, { dims, vector: false, required });
    const { E, V, F, H, Hkv, Dk, Dv, nRot, X, Fe } = p;
    const qkv = (b: string, q: bigint, k: bigint, v: bigint) => {
        mat(`${b}attn_qkv.weight`, [E, q + k + v], false);
        vec(`${b}attn_qkv.bias`, q + k + v, false);
        mat(`${b}attn_q.weight`, [E, q], false);
        mat(`${b}attn_k.weight`, [E, k], false);
        mat(`${b}attn_v.weight`, [E, v], false);
        vec(`${b}attn_q.bias`, q, false);
        vec(`${b}attn_k.bias`, k, false);
        vec(`${b}attn_v.bias`, v, false);
    };
    const experts = (b: string) => {
        mat(`${b}ffn_gate_inp.weight`, [E, X]);
        mat(`${b}ffn_gate_exps.weight`, [E, Fe, X]);
        mat(`${b}ffn_down_exps.weight`, [Fe, E, X]);
        mat(`${b}ffn_up_exps.weight`, [E, Fe, X]);
    };
    mat("token_embd.weight", [E, V]);
    vec("output_norm.weight", E);
    const traits = ARCHITECTURE_TRAITS[arch];
    if (!traits.tiedHead) mat("output.weight", [E, V], traits.separateHead === true);
    if (arch === "phi3") { vec("rope_factors_long.weight", nRot / 2n, false); vec("rope_factors_short.weight", nRot / 2n, false); }
    if (arch === "mistral3") vec("rope_freqs.weight", nRot / 2n, false);
    for (let i = 0; i < p.nLayer; i++) {
        const b = `blk.${i}.`;
        vec(`${b}attn_norm.weight`, E);
        switch (arch) {
            case "qwen3moe":
                qkv(b, Dk * H, Dv * Hkv, Dv * Hkv);
                mat(`${b}attn_output.weight`, [Dk * H, E]);
                vec(`${b}attn_q_norm.weight`, Dk); vec(`${b}attn_k_norm.weight`, Dk);
                vec(`${b}ffn_norm.weight`, E);
                experts(b);
                break;
            case "qwen2moe":
                qkv(b, E, Dv * Hkv, Dv * Hkv);
                mat(`${b}attn_output.weight`, [E, E]);
                vec(`${b}ffn_norm.weight`, E);
                experts(b);
                // the shared expert (n_ff_shexp: expert_shared_feed_forward_length, else feed_forward_length) and its sigmoid gate
                vec(`${b}ffn_gate_inp_shexp.weight`, E);
                mat(`${b}ffn_gate_shexp.weight`, [E, p.Fs]); mat(`${b}ffn_down_shexp.weight`, [p.Fs, E]); mat(`${b}ffn_up_shexp.weight`, [E, p.Fs]);
                break;
            case "olmoe":
                // the graph multiplies by wq, wk, wv itself: a fused attn_qkv would leave them null; biases are loaded but unused
                mat(`${b}attn_q.weight`, [E, E]); mat(`${b}attn_k.weight`, [E, Dv * Hkv]); mat(`${b}attn_v.weight`, [E, Dv * Hkv]);
                vec(`${b}attn_q.bias`, E, false); vec(`${b}attn_k.bias`, Dv * Hkv, false); vec(`${b}attn_v.bias`, Dv * Hkv, false);
                mat(`${b}attn_output.weight`, [E, E]);
                vec(`${b}attn_q_norm.weight`, E); vec(`${b}attn_k_norm.weight`, E);
                vec(`${b}ffn_norm.weight`, E);
                experts(b);
                break;
            case "phi3":
                qkv(b, E, Dv * Hkv, Dv * Hkv);
                mat(`${b}attn_output.weight`, [E, E]);
                vec(`${b}ffn_norm.weight`, E);
                mat(`${b}ffn_down.weight`, [F, E]);
                mat(`${b}ffn_up.weight`, [E, 2n * F]);
                break;
            case "mistral3":
                qkv(b, Dk * H, Dk * Hkv, Dv * Hkv);
                mat(`${b}attn_output.weight`, [Dk * H, E]);
                vec(`${b}attn_output.bias`, E, false);
                vec(`${b}ffn_norm.weight`, E);
                mat(`${b}ffn_gate.weight`, [E, F]); mat(`${b}ffn_down.weight`, [F, E]); mat(`${b}ffn_up.weight`, [E, F]);
                vec(`${b}ffn_gate.bias`, F, false); vec(`${b}ffn_down.bias`, E, false); vec(`${b}ffn_up.bias`, F, false);
                break;
            case "gemma2":
            case "gemma3":
                qkv(b, Dk * H, Dk * Hkv, Dv * Hkv);
                mat(`${b}attn_output.weight`, [Dk * H, E]);
                vec(`${b}post_attention_norm.weight`, E);
                if (arch === "gemma3") { vec(`${b}attn_k_norm.weight`, Dk); vec(`${b}attn_q_norm.weight`, Dk); }
                vec(`${b}ffn_norm.weight`, E);
                mat(`${b}ffn_gate.weight`, [E, F]); mat(`${b}ffn_up.weight`, [E, F]); mat(`${b}ffn_down.weight`, [F, E]);
                vec(`${b}post_ffw_norm.weight`, E);
                break;
            case "gpt-oss":
                vec(`${b}post_attention_norm.weight`, E);
                qkv(b, H * nRot, Hkv * nRot, Hkv * nRot);
                mat(`${b}attn_output.weight`, [H * nRot, E]);
                vec(`${b}attn_output.bias`, E);
                vec(`${b}attn_sinks.weight`, H);
                experts(b);
                vec(`${b}ffn_gate_inp.bias`, X);
                bias2(`${b}ffn_gate_exps.bias`, [Fe, X]);
                bias2(`${b}ffn_down_exps.bias`, [E, X]);
                bias2(`${b}ffn_up_exps.bias`, [Fe, X]);
                break;
            default:
                throw new Error(`internal: no tensor list for ${arch}`);
        }
    }
    return m;
}

/** Throws ModelFileError when llama.cpp could assert, divide by zero or over-allocate on this file. */
export function checkModelHeader(header: GgufHeader, file: string, options: ModelCheckOptions): void {
    const isStage = header.kv.has("hearth.stage.version");
    const c: Checker = new Checker(header, file, options.role === "stage" || isStage ? STAGE_HINT : MODEL_HINT);
    const arch = c.str("general.architecture", true);
    if (!(SUPPORTED_ARCHITECTURES as readonly string[]).includes(arch)) {
        // The reason it is refused, from the one list of architectures (architectures.ts).
        try {
            checkArchitectureSupported(shown(arch), file);
        } catch (e) {
            throw new ModelFileError(file, (e as Error).message.slice(file.length + 2));
        }
    }

    c.str("general.name", false);
    c.int("general.file_type", false, 0, 1 << 16);
    c.int("general.alignment", false, 1, 1 << 30);
    // "vocab": node-llama-cpp's loadModel({ vocabOnly: true }) first loads the whole model in a
    // "simulator session" to resolve GPU layers (hparams and tensor metadata), so a vocabulary-only
    // load needs every check below too, and a vocabulary.
    if (options.role === "model" && isStage) c.fail("this is a Hearth stage file, not a whole model");
    if (options.role === "stage" && !isStage) c.fail("metadata hearth.stage.version is missing: this is not a Hearth stage file");

    const k = (s: string) => `${arch}.${s}`;
    // hparams (llama-model.cpp load_hparams)
    const nLayer = c.int(k("block_count"), true, 1, LIMITS.layers);
    const stage = isStage ? checkStageKeys(c, nLayer) : null;
    c.int(k("context_length"), true, 1, LIMITS.context);
    const E = c.int(k("embedding_length"), true, 1, LIMITS.embd);
    c.int(k("embedding_length_out"), false, E, E);
    const traits = ARCHITECTURE_TRAITS[arch as SupportedArchitecture];
    const moe = traits.moe === true;
    for (const key of [...(moe ? [] : ["expert_count", "expert_used_count"]), "expert_group_count", "expert_group_used_count", "nextn_predict_layers"]) {
        const v = c.value(k(key));
        if (v == null) continue;
        const zero = v.type === GgufType.UINT32 && v.value === 0;
        if (!zero) c.fail(`metadata ${k(key)} is ${v.type === GgufType.UINT32 ? String(v.value) : c.typeName(v)}, expected 0: ${moe ? "expert groups" : "mixture-of-experts"} and next-token-prediction layers are not supported`);
    }
    // mixture of experts (llama-model.cpp load_hparams: n_expert <= LLAMA_MAX_EXPERTS, 0 < n_expert_used <= n_expert)
    const X = moe ? c.int(k("expert_count"), true, 1, 1024) : 0;
    const nUsed = moe ? c.perLayer(k("expert_used_count"), true, nLayer, 1, X)! : 0;
    const F = c.perLayer(k("feed_forward_length"), !moe, nLayer, 1, LIMITS.ff) ?? 0;
    // qwen3moe and qwen2moe fall back to n_ff / n_expert_used; gpt-oss requires the key; olmoe's experts are n_ff wide (it reads no such key)
    const Fe = arch === "olmoe" ? F
        : moe ? (c.perLayer(k("expert_feed_forward_length"), arch === "gpt-oss", nLayer, 1, LIMITS.ff) ?? Math.floor(F / nUsed)) : 0;
    // qwen2moe's shared expert: expert_shared_feed_forward_length, else n_ff
    const Fs = arch === "qwen2moe" ? (c.int(k("expert_shared_feed_forward_length"), false, 1, LIMITS.ff) ?? F) : 0;
    if (arch === "qwen2moe" && Fs < 1) c.fail(`metadata ${k("expert_shared_feed_forward_length")} and ${k("feed_forward_length")} are missing: the shared expert has no size`);
    if (arch === "olmoe" && Fe < 1) c.fail(`metadata ${k("feed_forward_length")} is missing: olmoe's experts are that wide`);
    if (moe && Fe < 1) c.fail(`metadata ${k("expert_feed_forward_length")} is missing and ${k("feed_forward_length")} / ${k("expert_used_count")} is 0`);
    c.float(k("expert_weights_scale"), false, (x) => x >= 0, "a number >= 0");
    c.bool(k("expert_weights_norm"));
    const H = c.perLayer(k("attention.head_count"), true, nLayer, 1, LIMITS.heads)!;
    const Hkv = c.perLayer(k("attention.head_count_kv"), false, nLayer, 1, H) ?? H;
    if (H % Hkv !== 0) c.fail(`metadata ${k("attention.head_count")} ${H} is not a multiple of ${k("attention.head_count_kv")} ${Hkv}`);
    const Dk = c.int(k("attention.key_length"), false, 1, LIMITS.headDim);
    const Dv = c.int(k("attention.value_length"), false, 1, LIMITS.headDim);
    if ((Dk == null || Dv == null) && E % H !== 0)
        c.fail(`metadata ${k("embedding_length")} ${E} is not a multiple of ${k("attention.head_count")} ${H}, and no attention.key_length/value_length gives the head size`);
    const headK = Dk ?? E / H, headV = Dv ?? E / H;
    if (headK < 1 || headV < 1) c.fail(`the head size ${E}/${H} is 0`);
    // graph builders: GGML_ASSERT(n_embd_head_v == n_embd_head_k) and GGML_ASSERT(n_embd_head == n_rot)
    if (headK !== headV) c.fail(`attention key length ${headK} differs from value length ${headV}; the ${arch} graph asserts they are equal`);
    const nRot = c.int(k("rope.dimension_count"), false, 1, LIMITS.headDim) ?? headK;
    // phi3 (Phi-4-mini) rotates part of each head; the other graphs assert n_rot == head size
    if (arch === "phi3" ? nRot > headK || nRot % 2 !== 0 : nRot !== headK)
        c.fail(`metadata ${k("rope.dimension_count")} is ${nRot}, expected ${arch === "phi3" ? `an even number up to the head size ${headK}` : `the head size ${headK}`}`);
    if (headK % 2 !== 0) c.fail(`the head size ${headK} is odd; RoPE needs an even head size`);
    if ((arch === "qwen2" || arch === "phi3" || arch === "qwen2moe" || arch === "olmoe") && headK * H !== E)
        c.fail(`attention heads ${H} × head size ${headK} is ${H * headK}, but ${arch} needs it to equal ${k("embedding_length")} ${E}`);
    // olmoe's k norm is n_embd wide and multiplies K (n_embd_gqa wide): ggml_mul asserts unless they are equal
    if (arch === "olmoe" && Hkv !== H) c.fail(`metadata ${k("attention.head_count_kv")} is ${Hkv}, but olmoe needs it to equal ${k("attention.head_count")} ${H} (its k norm spans n_embd)`);
    if (BigInt(headK) * BigInt(H) > BigInt(LIMITS.embd * 4)) c.fail(`attention heads ${H} × head size ${headK} is implausibly large`);
    c.float(k("attention.layer_norm_rms_epsilon"), true, (x) => x > 0 && x <= 1, "a number in (0, 1]");
    c.float(k("rope.freq_base"), false, (x) => x > 0, "a positive number");
    const scaling = c.str(k("rope.scaling.type"), false);
    // load_hparams: GGML_ASSERT(rope_scaling_type_train != LLAMA_ROPE_SCALING_TYPE_UNSPECIFIED)
    const scalings = arch === "phi3" || arch === "mistral3" ? ["none", "linear", "yarn", "longrope"] : ["none", "linear", "yarn"];
    if (scaling != null && !scalings.includes(scaling))
        c.fail(`metadata ${k("rope.scaling.type")} is '${shown(scaling)}', expected ${scalings.slice(0, -1).join(", ")} or ${scalings.at(-1)}`);
    c.float(k("rope.scaling.factor"), false, (x) => x >= 0 && x <= 1e6, "0 to 1e6");
    c.float(k("rope.scale_linear"), false, (x) => x >= 0 && x <= 1e6, "0 to 1e6");
    c.float(k("rope.scaling.attn_factor"), false, (x) => x > 0 && x <= 1e6, "a positive number");
    c.int(k("rope.scaling.original_context_length"), false, 1, LIMITS.context);
    c.bool(k("rope.scaling.finetuned"));
    c.bool(k("attention.causal"));
    // sliding window, soft-capping and other graph constants (gemma2/3, gpt-oss, mistral3)
    if (arch === "gpt-oss") c.int(k("attention.sliding_window"), true, 0, LIMITS.context);
    else c.int(k("attention.sliding_window"), false, 0, LIMITS.context);
    const pattern = c.value(k("attention.sliding_window_pattern"));
    if (pattern != null && pattern.type !== GgufType.ARRAY) c.int(k("attention.sliding_window_pattern"), false, 0, LIMITS.layers);
    c.float(k("rope.freq_base_swa"), false, (x) => x > 0, "a positive number");
    c.float(k("attn_logit_softcapping"), false, (x) => x > 0, "a positive number");
    c.float(k("final_logit_softcapping"), false, (x) => x > 0, "a positive number");
    c.float(k("attention.temperature_scale"), false, (x) => x >= 0, "a number >= 0");
    checkInputScaleKeys(c, arch as SupportedArchitecture, stage);

    // tokenizer: whole models and last stages carry the real one; other stages "none" with one dummy token
    let V: number;
    if (stage != null && !stage.last) {
        const model = c.str("tokenizer.ggml.model", true);
        if (options.role === "vocab" && model === "none")
            c.fail(`tokenizer.ggml.model is 'none': this file has no vocabulary, expected one of ${TOKENIZER_MODELS.join(", ")}`);
        if (model !== "none") c.fail(`tokenizer.ggml.model is '${shown(model)}' but a stage without the head has 'none'`);
        V = c.int(k("vocab_size"), true, 1, 1);
    } else {
        V = checkTokenizer(c, arch, false)!;
        c.int(k("vocab_size"), false, V, V);
    }

    // tensors (llama.cpp throws on wrong shapes, but crashes in the graph on wrong types)
    const original = arch === "llama" || arch === "qwen2" || arch === "qwen3";
    const shape = { E: BigInt(E), V: BigInt(V), F: BigInt(F), H: BigInt(H), Hkv: BigInt(Hkv), Dk: BigInt(headK), Dv: BigInt(headV), nLayer };
    const expected = original ? expectedTensors(arch, shape)
        : expectedTensorsMore(arch as SupportedArchitecture, { ...shape, nRot: BigInt(nRot), X: BigInt(X), Fe: BigInt(Fe), Fs: BigInt(Fs) });
    const present = new Set<string>();
    let dataEnd = header.dataOffset;
    for (const t of header.tensors) {
        const want = expected.get(t.name);
        if (want == null) c.fail(`tensor ${shown(t.name)} is not part of a ${arch} model with ${nLayer} layers`);
        present.add(t.name);
        if (!sameDims(t.dims, want.dims)) c.fail(`tensor ${t.name} has shape ${dimsText(t.dims)}, expected ${dimsText(want.dims)}`);
        if (want.vector ? t.type !== 0 : !MATRIX_TYPES.has(t.type))
            c.fail(`tensor ${t.name} has ggml type ${ggmlName(t.type)}, expected ${want.vector ? "f32" : "f32, f16, bf16 or a quantized type"}`);
        const end = header.dataOffset + t.offset + t.size;
        if (end > dataEnd) dataEnd = end;
    }
    for (const [name, want] of expected) if (want.required && !present.has(name)) c.fail(`tensor ${name} is missing`);
    if (!original)
        for (let i = 0; i < nLayer; i++) {
            // create_tensor_qkv: a fused attn_qkv, or all three projections (and not both)
            const b = `blk.${i}.`;
            const separate = ["attn_q", "attn_k", "attn_v"].filter((t) => present.has(`${b}${t}.weight`));
            if (present.has(`${b}attn_qkv.weight`) ? separate.length > 0 : separate.length !== 3)
                c.fail(`layer ${i} has ${present.has(`${b}attn_qkv.weight`) ? "both attn_qkv and separate projections" : `no attn_qkv and only ${separate.join(", ") || "none"} of attn_q, attn_k, attn_v`}`);
            if (present.has(`${b}attn_qkv.bias`) && !present.has(`${b}attn_qkv.weight`)) c.fail(`tensor ${b}attn_qkv.bias is present without ${b}attn_qkv.weight`);
        }

    // the first stage's input embedding table (native/src/stage.cc reads rows × row bytes at offset)
    const inputKeys = ["type", "rows", "embd", "offset"].map((s) => `hearth.input_embd.${s}`);
    if (stage == null || !stage.first) {
        for (const key of inputKeys) if (header.kv.has(key)) c.fail(`metadata ${key} is present but only the first stage has an input table`);
        return;
    }
    const type = c.int(inputKeys[0]!, true, 0, 1023);
    if (!MATRIX_TYPES.has(type)) c.fail(`metadata ${inputKeys[0]} is ggml type ${ggmlName(type)}, expected f32, f16, bf16 or a quantized type`);
    const rows = c.int(inputKeys[1]!, true, 1, Math.min(LIMITS.inputRows, LIMITS.vocab), GgufType.UINT64);
    const embd = c.int(inputKeys[2]!, true, E, E, GgufType.UINT64);
    const offsetValue = c.value(inputKeys[3]!);
    if (offsetValue == null) c.fail(`metadata ${inputKeys[3]} is missing`);
    c.expectType(inputKeys[3]!, offsetValue, GgufType.UINT64);
    const offset = (offsetValue as { value: bigint }).value;
    const info = GGML_TYPES.get(type)!;
    if (embd % info.blockSize !== 0) c.fail(`input table width ${embd} is not a multiple of the ${info.name} block size ${info.blockSize}`);
    const bytes = BigInt(rows) * (BigInt(embd) / BigInt(info.blockSize)) * BigInt(info.typeSize);
    if (offset % BigInt(header.alignment) !== 0n) c.fail(`input table offset ${offset} is not aligned to ${header.alignment}`);
    if (offset < dataEnd) c.fail(`input table offset ${offset} overlaps the tensor data, which ends at ${dataEnd}`);
    if (offset + bytes !== header.fileSize)
        c.fail(`input table of ${rows} rows × ${embd} ${info.name} ends at byte ${offset + bytes}, but the file has ${header.fileSize} bytes`);
    if (stage.last && rows !== V) c.fail(`input table has ${rows} rows, expected one per token (${V})`);
}
