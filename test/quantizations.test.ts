// Every quantization people download slices and runs exactly: a small llama model, quantized by
// llama.cpp's own quantizer (make-model --type), split into three stages, gives the greedy tokens
// of node-llama-cpp's one context on the unsliced file, and logits equal bit for bit to the whole
// file in one stage runtime. The first stage looks token embeddings up itself (native/src/stage.cc
// dequantizes rows of token_embd.weight with ggml's to_float), so the untied models below carry a
// token_embd.weight of the type under test; each file's tensor types are read back to prove that
// the quantizer used the intended type for the layer matrices (it silently falls back to another
// type for rows that do not fit a type's block).
//
// Both sides run one thread per core (what stages take by default): with node-llama-cpp's own
// default thread setting 8 tokens of the reference took 3-10 s instead of 0.1 s on this busy 2-core
// machine, and test/pipeline.test.ts already proves the defaults on both sides equal.
//
// MXFP4 (gpt-oss's expert type): llama.cpp's MXFP4_MOE quantizes only MoE expert tensors, so a
// dense model made with it holds no MXFP4 at all (make-model refuses it). Here a file whose
// feed-forward matrices and token table are MXFP4 (random blocks written by the test) is sliced
// (byte-exact tensors, stage metadata) and run through the pipeline against one context.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { Tokenizer } from "../app/model/tokenizer.ts";
import { LocalPipeline } from "../app/engine/local-pipeline.ts";
import { makeModel, MODEL_TYPES, type ModelType } from "../app/model/make-model.ts";
import { parseLayerRanges, readStageMetadata, sliceStage } from "../app/stage/slice.ts";
import { readGgufHeader } from "../app/gguf/reader.ts";
import { kvNumber, type GgufHeader } from "../app/gguf/format.ts";
import { GGML_TYPES, tensorBytes } from "../app/gguf/ggml-types.ts";
import { SequentialFileWriter, layoutGguf } from "../app/gguf/writer.ts";
import { modelShapeFromHeader } from "../app/placement/model-shape.ts";
import { quantizationByFileType } from "../app/placement/quantization.ts";
import { buildModel, tempDir, type ModelSpec } from "./helpers/models.ts";
import { referenceGreedy } from "./helpers/reference.ts";
import { testGpuLayers } from "./helpers/gpu.ts";
import { assertLogitsEqualWhole } from "./helpers/stepper.ts";
import { greedyTokens } from "./helpers/generation.ts";

const CONTEXT = 128;
const GEN = 8;
const LOGIT_STEPS = 4;
const PROMPT = "The quick brown fox jumps over the lazy dog.";
const SPLIT = "0-1,1-2,2-3";
const load = { contextSize: CONTEXT, maxSequences: 1, gpuLayers: await testGpuLayers() };
/** Rows of 256 (every k-quant's block) in every layer matrix and the token table. */
const DIMS: Pick<ModelSpec, "embd" | "heads" | "kvHeads" | "ff" | "seed"> = { embd: 256, heads: 4, kvHeads: 2, ff: 512, seed: 11 };
const MXFP4 = 39;

interface Case {
    type: ModelType;
    tied: boolean;
    /** ggml type of attn_q, attn_k, ffn_gate, ffn_up (and of token_embd.weight when untied) */
    base: string;
    /** every type a layer matrix may have: the mix llama.cpp documents for the file type (Q4_K_M keeps some attn_v and ffn_down in Q6_K) */
    mix: string[];
}

const cases: Case[] = [
    { type: "f16", tied: false, base: "f16", mix: ["f16"] },
    { type: "bf16", tied: false, base: "bf16", mix: ["bf16"] },
    { type: "q8_0", tied: false, base: "q8_0", mix: ["q8_0"] },
    { type: "q6_k", tied: false, base: "q6_K", mix: ["q6_K"] },
    { type: "q5_k_m", tied: false, base: "q5_K", mix: ["q5_K", "q6_K"] },
    { type: "q5_k_s", tied: false, base: "q5_K", mix: ["q5_K"] },
    { type: "q5_1", tied: false, base: "q5_1", mix: ["q5_1"] },
    { type: "q5_0", tied: false, base: "q5_0", mix: ["q5_0"] },
    { type: "q4_k_m", tied: false, base: "q4_K", mix: ["q4_K", "q6_K"] },
    { type: "q4_k_m", tied: true, base: "q4_K", mix: ["q4_K", "q6_K"] },
    { type: "q4_k_s", tied: false, base: "q4_K", mix: ["q4_K", "q5_K"] },
    { type: "q4_1", tied: false, base: "q4_1", mix: ["q4_1"] },
    { type: "q4_0", tied: false, base: "q4_0", mix: ["q4_0"] },
    { type: "iq4_xs", tied: false, base: "iq4_xs", mix: ["iq4_xs"] },
    { type: "iq4_nl", tied: false, base: "iq4_nl", mix: ["iq4_nl"] },
    { type: "q3_k_l", tied: false, base: "q3_K", mix: ["q3_K", "q5_K"] },
    { type: "q3_k_m", tied: false, base: "q3_K", mix: ["q3_K", "q4_K", "q5_K"] },
    { type: "q3_k_s", tied: false, base: "q3_K", mix: ["q3_K"] },
    { type: "q2_k", tied: false, base: "q2_K", mix: ["q2_K", "q3_K"] }
];

const dir = tempDir("quantizations");
const built = new Map<string, string>();
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const typeName = (t: number) => GGML_TYPES.get(t)?.name ?? String(t);
const LAYER_MATRIX = /^blk\.\d+\.(attn_q|attn_k|attn_v|attn_output|ffn_gate|ffn_up|ffn_down)\.weight$/;
const BASE_MATRIX = /^blk\.\d+\.(attn_q|attn_k|ffn_gate|ffn_up)\.weight$/;

async function sliceAll(model: string): Promise<string[]> {
    const files = [];
    for (const r of parseLayerRanges(SPLIT, 3)) files.push((await sliceStage(model, r, `${model}.${r.start}-${r.end}.gguf`)).path);
    return files;
}

let promptTokens: Promise<number[]> | null = null;
/** The prompt in the llama-spm vocabulary that every model here has (tokenized once). */
function promptOf(model: string): Promise<number[]> {
    promptTokens ??= (async () => {
        const tok = await Tokenizer.load(model);
        try { return tok.encode(PROMPT); } finally { await tok.dispose(); }
    })();
    return promptTokens;
}

/** The pipeline over `stages` against node-llama-cpp's one context (tokens) and the whole file in one stage runtime (tokens and logits, bit for bit). */
async function assertExact(model: string, stages: string[], prompt: number[]) {
    const reference = await referenceGreedy(model, prompt, GEN, { contextSize: CONTEXT, threads: os.availableParallelism() });
    assert.equal(reference.length, GEN);
    assert.ok(new Set(reference).size > 2, `the random model should not repeat one token: ${reference}`);
    const pipeline = await LocalPipeline.load(stages, load);
    try {
        assert.deepEqual(await greedyTokens(pipeline, prompt, GEN), reference, "greedy tokens equal node-llama-cpp's one context");
        await Promise.all(pipeline.stages.map((s) => s.removeSequence(0)));
        await assertLogitsEqualWhole(pipeline.stages, model, load, prompt, LOGIT_STEPS);
    } finally {
        await pipeline.dispose();
    }
}

/** The first stage's input table is the model's token_embd.weight: its type, and its bytes at the recorded offset. */
function assertInputTable(model: GgufHeader, modelPath: string, firstStage: string) {
    const table = model.tensors.find((t) => t.name === "token_embd.weight")!;
    const meta = readStageMetadata(readGgufHeader(firstStage))!.inputTable!;
    assert.equal(typeName(meta.type), typeName(table.type));
    const a = Buffer.alloc(Number(table.size)), b = Buffer.alloc(Number(table.size));
    const fa = fs.openSync(modelPath, "r"), fb = fs.openSync(firstStage, "r");
    try {
        fs.readSync(fa, a, 0, a.length, Number(model.dataOffset + table.offset));
        fs.readSync(fb, b, 0, b.length, meta.offset);
    } finally {
        fs.closeSync(fa); fs.closeSync(fb);
    }
    assert.ok(a.equals(b), "the first stage carries the token table byte for byte");
}

for (const c of cases) {
    const name = `${c.type}${c.tied ? " tied" : ""}`;
    describe(name, () => {
        let model = "";
        let header: GgufHeader;
        before(async () => {
            model = await buildModel(dir, name.replace(/\W+/g, "_"), { arch: "llama", vocab: "llama-spm", layers: 3, type: c.type, tied: c.tied, ...DIMS });
            header = readGgufHeader(model);
            built.set(name, model);
        });

        test("llama.cpp's quantizer used the intended type for the layer matrices", { timeout: 60_000 }, () => {
            assert.equal(kvNumber(header, "general.file_type"), MODEL_TYPES[c.type]);
            const known = quantizationByFileType(MODEL_TYPES[c.type]);
            assert.ok(known !== undefined, `placement knows ${c.type}'s bits per weight`);
            assert.equal(modelShapeFromHeader(header).quantization, known.name);
            const matrices = header.tensors.filter((t) => LAYER_MATRIX.test(t.name));
            assert.equal(matrices.length, 3 * 7);
            for (const t of matrices) {
                if (BASE_MATRIX.test(t.name)) assert.equal(typeName(t.type), c.base, `${t.name}`);
                assert.ok(c.mix.includes(typeName(t.type)), `${t.name} is ${typeName(t.type)}, not one of ${c.mix.join(", ")}: the quantizer fell back`);
            }
            const table = header.tensors.find((t) => t.name === "token_embd.weight")!;
            if (!c.tied) assert.equal(typeName(table.type), c.base, "the token table (the first stage's lookup) is of the type under test");
            assert.equal(header.tensors.some((t) => t.name === "output.weight"), !c.tied);
        });

        test(`3 stages (${SPLIT}): greedy tokens equal node-llama-cpp, logits equal the whole file bit for bit`, { timeout: 120_000 }, async () => {
            const stages = await sliceAll(model);
            assertInputTable(header, model, stages[0]!);
            await assertExact(model, stages, await promptOf(model));
        });
    });
}

test("an IQ4_NL file is a Q4_0 file's size (placement gives them the same bits per weight)", { timeout: 10_000 }, () => {
    assert.equal(fs.statSync(built.get("iq4_nl")!).size, fs.statSync(built.get("q4_0")!).size);
    assert.equal(quantizationByFileType(MODEL_TYPES.iq4_nl)!.bitsPerWeight, quantizationByFileType(MODEL_TYPES.q4_0)!.bitsPerWeight);
});

describe("types make-model cannot make here fail with a clear message", () => {
    test("k-quants and iq4_xs need rows of 256, the 32-blocks rows of 32", { timeout: 30_000 }, async () => {
        const spec = { arch: "llama" as const, vocab: "llama-spm" as const, layers: 1, heads: 4, kvHeads: 2, tied: true, seed: 1 };
        for (const type of ["q2_k", "q3_k_m", "q4_k_s", "q5_k_m", "q6_k", "iq4_xs"] as const)
            await assert.rejects(makeModel({ ...spec, embd: 128, ff: 256, type, out: path.join(dir, "never.gguf") }), new RegExp(`multiples of 256 to quantize to ${type}`));
        for (const type of ["q4_0", "q8_0", "iq4_nl"] as const)
            await assert.rejects(makeModel({ ...spec, embd: 48, ff: 80, type, heads: 4, out: path.join(dir, "never.gguf") }), new RegExp(`multiples of 32 to quantize to ${type}`));
        await assert.rejects(makeModel({ ...spec, embd: 64, ff: 128, type: "q9_9" as ModelType, out: path.join(dir, "never.gguf") }), /--type must be one of f32, f16/);
        assert.ok(!fs.existsSync(path.join(dir, "never.gguf")));
    });

    test("mxfp4_moe on a model without experts is refused: llama.cpp would quantize no tensor to MXFP4", { timeout: 60_000 }, async () => {
        const out = path.join(dir, "dense-mxfp4.gguf");
        await assert.rejects(makeModel({ arch: "llama", vocab: "llama-spm", layers: 1, ...DIMS, tied: true, type: "mxfp4_moe", out }), /mxfp4_moe.*expert/i);
        assert.ok(!fs.existsSync(out), "no misleading file is left behind");
    });
});

// ---- MXFP4 ----------------------------------------------------------------------------------------

/** `source` with its feed-forward matrices and token table replaced by random MXFP4 blocks (e8m0 scale byte, 16 bytes of e2m1 pairs). */
async function withMxfp4(source: string, out: string, seed: number): Promise<void> {
    const h = readGgufHeader(source);
    const isMx = (name: string) => name === "token_embd.weight" || /^blk\.\d+\.ffn_(gate|up|down)\.weight$/.test(name);
    const plan = h.tensors.map((t) => ({ name: t.name, dims: t.dims, type: isMx(t.name) ? MXFP4 : t.type, t }));
    const layout = layoutGguf(h.kv, plan, h.alignment);
    const src = fs.readFileSync(source);
    let s = seed >>> 0;
    const rand = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
    const w = await SequentialFileWriter.create(out);
    try {
        await w.write(layout.header);
        for (const [i, p] of plan.entries()) {
            await w.padTo(layout.tensorOffsets[i]!);
            if (p.type !== MXFP4) {
                await w.write(src.subarray(Number(h.dataOffset + p.t.offset), Number(h.dataOffset + p.t.offset + p.t.size)));
                continue;
            }
            const data = Buffer.alloc(Number(tensorBytes(MXFP4, p.dims)));
            for (let b = 0; b < data.length; b += 17) {
                // Element = e2m1 value (0 … 6) × 2^(e − 127): e of 121–123 gives weights of std ≈ 0.07–0.3.
                data[b] = p.name === "token_embd.weight" ? 120 : 121 + (rand() % 3);
                for (let k = 1; k < 17; k++) data[b + k] = rand() & 0xff;
            }
            await w.write(data);
        }
        await w.padTo(layout.end);
        await w.close();
    } catch (e) {
        await w.abort();
        throw e;
    }
}

describe("mxfp4 tensors (written by the test: no dense quantizer makes them)", () => {
    let model = "";
    let header: GgufHeader;
    before(async () => {
        const q8 = await buildModel(dir, "mx-source-q8_0", { arch: "llama", vocab: "llama-spm", layers: 3, type: "q8_0", tied: false, ...DIMS });
        model = path.join(dir, "mxfp4.gguf");
        await withMxfp4(q8, model, 12345);
        header = readGgufHeader(model);
    });

    test("each stage holds its layers' mxfp4 tensors byte for byte, the first stage an mxfp4 input table", { timeout: 60_000 }, async () => {
        const stages = await sliceAll(model);
        const ranges = parseLayerRanges(SPLIT, 3);
        const whole = fs.readFileSync(model);
        const bytesOf = (file: Buffer, h: GgufHeader, name: string) => {
            const t = h.tensors.find((x) => x.name === name)!;
            return { t, data: file.subarray(Number(h.dataOffset + t.offset), Number(h.dataOffset + t.offset + t.size)) };
        };
        assert.equal(header.tensors.filter((t) => t.type === MXFP4).length, 3 * 3 + 1);
        for (const [i, file] of stages.entries()) {
            const sh = readGgufHeader(file);
            const data = fs.readFileSync(file);
            const mx = sh.tensors.filter((t) => t.type === MXFP4).map((t) => t.name).sort();
            assert.deepEqual(mx, ["blk.0.ffn_down.weight", "blk.0.ffn_gate.weight", "blk.0.ffn_up.weight"]);
            for (const part of ["ffn_gate", "ffn_up", "ffn_down"]) {
                const a = bytesOf(whole, header, `blk.${ranges[i]!.start}.${part}.weight`), b = bytesOf(data, sh, `blk.0.${part}.weight`);
                assert.deepEqual(b.t.dims, a.t.dims);
                assert.equal(b.t.size, a.t.size);
                assert.ok(b.data.equals(a.data), `${file}: blk.0.${part}.weight is layer ${ranges[i]!.start}'s`);
            }
        }
        assertInputTable(header, model, stages[0]!);
        assert.equal(typeName(readStageMetadata(readGgufHeader(stages[0]!))!.inputTable!.type), "mxfp4");
    });

    test(`3 stages (${SPLIT}): greedy tokens equal node-llama-cpp, logits equal the whole file bit for bit`, { timeout: 120_000 }, async () => {
        await assertExact(model, await sliceAll(model), await promptOf(model));
    });
});
