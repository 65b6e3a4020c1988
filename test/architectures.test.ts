// Every architecture enabled after llama, qwen2 and qwen3 (app/stage/architectures.ts) is proven
// here on a small random-weight model made by `hearth make-model`: three stages (one of them a
// single layer) give node-llama-cpp's greedy tokens on the whole model, with default options on
// both sides, in this process and through three node processes; and, all weights being f32, the
// last stage's logits equal the whole model's in one context bit for bit. Sliding-window models
// are split only where llama.cpp's fixed layer pattern is kept (allowedSplitPoints), and slicing
// refuses the other points. Gemma's input scaling is undone (gemma2) or applied (gemma3) by the
// stages exactly, which the bit-equal logits prove.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { GgufType, bool, str, u32, type GgufValue } from "../app/gguf/format.ts";
import { readGgufHeader } from "../app/gguf/reader.ts";
import { Tokenizer } from "../app/model/tokenizer.ts";
import { LocalPipeline } from "../app/engine/local-pipeline.ts";
import { StageRuntime } from "../app/stage/runtime.ts";
import { parseLayerRanges, sliceStage } from "../app/stage/slice.ts";
import { SUPPORTED_ARCHITECTURES, allowedSplitPoints, checkArchitectureSupported } from "../app/stage/architectures.ts";
import { connectPipeline } from "../app/coordinator/connect.ts";
import { ModelFileError, checkModelHeader } from "../app/stage/model-check.ts";
import { dropKv, editable, writeEditable } from "./helpers/fuzz-gguf.ts";
import { SMALL, buildModel, tempDir, type ModelSpec } from "./helpers/models.ts";
import { referenceGreedy } from "./helpers/reference.ts";
import { testGpuLayers } from "./helpers/gpu.ts";
import { maxAbsDiff, runSteps, type StepRecord } from "./helpers/stepper.ts";
import { greedyTokens } from "./helpers/generation.ts";
import { startNode, stopNode, type NodeProcess } from "./helpers/nodes.ts";
import { testCoordinator } from "./helpers/test-cluster.ts";
import { modelShapeFromHeader } from "../app/placement/model-shape.ts";
import { rangesByMemory } from "../app/placement/ranges.ts";

const CONTEXT = 256;
const GEN = 12;
const STEPS = 5;
const PROMPT = "The quick brown fox jumps over the lazy dog. Once upon a time";
/** Default stage options but a small context, on the GPU when this machine has one (as the reference). */
const load = { contextSize: CONTEXT, maxSequences: 1, gpuLayers: await testGpuLayers() };

interface Case {
    name: string;
    spec: ModelSpec;
    /** in-process splits: each has three stages, one of them a single layer */
    splits: string[];
    /** the split run through three node processes */
    distributed: string;
    /** the split points allowedSplitPoints must give */
    allowed: number[];
    /** a split that slicing must refuse, and the text its error names */
    refused?: { split: string; message: RegExp };
    /** what else the stage files must hold */
    stageFiles?: (headers: ReturnType<typeof readGgufHeader>[], files: string[]) => void;
}

/** A copy of a stage file without `key` is refused before llama.cpp sees it (it would compute silently wrong hidden states). */
function refusedWithout(file: string, key: string, message: RegExp) {
    const g = editable(file);
    dropKv(g, key);
    const out = `${file}.without-key.gguf`;
    writeEditable(g, out);
    assert.throws(() => checkModelHeader(readGgufHeader(out), out, { role: "stage" }), (e: Error) => e instanceof ModelFileError && message.test(e.message));
}

/**
 * Gemma's width: sqrtf(96) is not a power of two, so the first gemma3 stage's own scaling of its
 * embeddings equals the graph's only if it is the same float32 multiply (x * 8 would be exact in
 * any precision).
 */
const EMBD_NOT_POW4 = 96;

const kvOf = (h: ReturnType<typeof readGgufHeader>, key: string) => h.kv.get(key);
const tensorOf = (h: ReturnType<typeof readGgufHeader>, name: string) => h.tensors.find((t) => t.name === name);

const cases: Case[] = [
    {
        name: "qwen3moe (4 experts, 2 per token; q/k norms; qwen2 vocabulary)",
        spec: { arch: "qwen3moe", vocab: "qwen2", layers: 4, type: "f32", tied: false, ...SMALL, experts: 4, expertsUsed: 2, expertFf: 64 },
        splits: ["0-1,1-3,3-4", "0-2,2-3,3-4"], distributed: "0-1,1-3,3-4", allowed: [1, 2, 3],
        stageFiles: (hs) => {
            for (const h of hs) {
                assert.equal(tensorOf(h, "blk.0.ffn_gate_exps.weight")?.dims.join(","), "64,64,4", "expert tensors [n_embd, n_ff_exp, n_expert]");
                assert.equal(tensorOf(h, "blk.0.ffn_gate_inp.weight")?.dims.join(","), "64,4");
            }
        }
    },
    {
        name: "phi3 (fused attn_qkv, gated ffn_up; phi-3 vocabulary), tied head",
        spec: { arch: "phi3", vocab: "phi-3", layers: 4, type: "f32", tied: true, ...SMALL },
        splits: ["0-2,2-3,3-4", "0-1,1-2,2-4"], distributed: "0-2,2-3,3-4", allowed: [1, 2, 3]
    },
    {
        name: "mistral3 (YaRN, attention temperature past a 16-token original context; gpt-2 BPE vocabulary)",
        spec: { arch: "mistral3", vocab: "gpt-2", layers: 4, type: "f32", tied: false, ...SMALL },
        splits: ["0-1,1-3,3-4", "0-2,2-3,3-4"], distributed: "0-2,2-3,3-4", allowed: [1, 2, 3]
    },
    {
        name: "gemma2 (input scaled by sqrt(n_embd) in every stage's graph, soft-capping, sliding window every 2nd layer)",
        spec: { arch: "gemma2", vocab: "llama-spm", layers: 5, type: "f32", tied: true, ...SMALL, embd: EMBD_NOT_POW4, slidingWindow: 8 },
        splits: ["0-2,2-4,4-5"], distributed: "0-2,2-4,4-5", allowed: [2, 4],
        refused: { split: "0-1,1-3,3-5", message: /would split the model at layer 1, which is not allowed: .*set_swa_pattern\(2\).*Allowed split points: 2, 4\./ },
        stageFiles: (hs, files) => {
            assert.equal(kvOf(hs[0]!, "hearth.stage.restore_input"), undefined, "the first stage's graph scales the embeddings it is fed, once");
            for (const h of hs.slice(1)) assert.deepEqual(kvOf(h, "hearth.stage.restore_input"), str("inp_scaled"), "later stages undo the graph's scaling of their input");
            refusedWithout(files[1]!, "hearth.stage.restore_input", /metadata hearth\.stage\.restore_input is missing: a later stage of a gemma2 model must undo the graph's input scaling/);
        }
    },
    {
        name: "gemma3 (input scaled for token ids only, q/k norms, sliding-window pattern 3 from the metadata), tied head",
        spec: { arch: "gemma3", vocab: "llama-spm", layers: 7, type: "f32", tied: true, ...SMALL, embd: EMBD_NOT_POW4, slidingWindow: 8, swaPattern: 3 },
        splits: ["0-3,3-6,6-7"], distributed: "0-3,3-6,6-7", allowed: [3, 6],
        refused: { split: "0-2,2-6,6-7", message: /would split the model at layer 2, which is not allowed: .*i % 3 == 2, set_swa_pattern\(3\).*Allowed split points: 3, 6\./ },
        stageFiles: (hs, files) => {
            assert.deepEqual(kvOf(hs[0]!, "hearth.stage.scale_input"), bool(true), "the first stage scales the embeddings it looks up");
            refusedWithout(files[0]!, "hearth.stage.scale_input", /metadata hearth\.stage\.scale_input is missing: the first stage of a gemma3 model must scale its input embeddings/);
            for (const h of hs.slice(1)) assert.equal(kvOf(h, "hearth.stage.scale_input"), undefined);
            for (const h of hs) assert.deepEqual(kvOf(h, "gemma3.attention.sliding_window_pattern"), u32(3));
        }
    },
    {
        name: "gemma3 without a sliding window (every split point allowed)",
        spec: { arch: "gemma3", vocab: "llama-spm", layers: 4, type: "f32", tied: false, ...SMALL, embd: EMBD_NOT_POW4, seed: 11, slidingWindow: 0 },
        splits: ["0-1,1-3,3-4", "0-2,2-3,3-4"], distributed: "0-1,1-3,3-4", allowed: [1, 2, 3]
    },
    {
        name: "gpt-oss (attention sinks, biases, sliding window every 2nd layer, 4 experts with biases; gpt-2 BPE vocabulary)",
        spec: { arch: "gpt-oss", vocab: "gpt-2", layers: 5, type: "f32", tied: false, ...SMALL, experts: 4, expertsUsed: 2, expertFf: 64, slidingWindow: 8 },
        splits: ["0-2,2-4,4-5"], distributed: "0-2,2-4,4-5", allowed: [2, 4],
        refused: { split: "0-1,1-4,4-5", message: /would split the model at layer 1, which is not allowed: .*set_swa_pattern\(2\)/ },
        stageFiles: (hs) => {
            const lastStage = hs.at(-1)!;
            assert.ok(tensorOf(lastStage, "output.weight") != null, "llama.cpp requires gpt-oss's output.weight: the last stage keeps the head");
            assert.equal(tensorOf(lastStage, "token_embd.weight")?.type, 2, "and a zero q4_0 token_embd.weight it never reads");
            for (const h of hs.slice(0, -1)) assert.equal(tensorOf(h, "output.weight")?.dims.join(","), "64,1");
        }
    },
    {
        name: "gpt-oss with MXFP4 experts (llama.cpp's MXFP4_MOE: experts MXFP4, the rest Q8_0), as gpt-oss ships",
        spec: { arch: "gpt-oss", vocab: "gpt-2", layers: 5, type: "mxfp4_moe", tied: false, ...SMALL, seed: 5, experts: 4, expertsUsed: 2, expertFf: 64, slidingWindow: 8 },
        splits: ["0-2,2-4,4-5"], distributed: "0-2,2-4,4-5", allowed: [2, 4],
        stageFiles: (hs) => {
            for (const h of hs) {
                assert.equal(tensorOf(h, "blk.0.ffn_gate_exps.weight")?.type, 39, "the experts are MXFP4");
                assert.equal(tensorOf(h, "blk.0.attn_q.weight")?.type, 8, "the other matrices Q8_0");
            }
        }
    },
    {
        name: "qwen2moe (4 experts, 2 per token, a shared expert behind a sigmoid gate; q/k/v biases; qwen2 vocabulary)",
        spec: { arch: "qwen2moe", vocab: "qwen2", layers: 4, type: "f32", tied: false, ...SMALL, experts: 4, expertsUsed: 2, expertFf: 64, sharedExpertFf: 96 },
        splits: ["0-1,1-3,3-4", "0-2,2-3,3-4"], distributed: "0-1,1-3,3-4", allowed: [1, 2, 3],
        stageFiles: (hs) => {
            for (const h of hs) {
                assert.equal(tensorOf(h, "blk.0.ffn_gate_exps.weight")?.dims.join(","), "64,64,4");
                assert.equal(tensorOf(h, "blk.0.ffn_gate_inp_shexp.weight")?.dims.join(","), "64", "the shared expert's gate is one vector");
                assert.equal(tensorOf(h, "blk.0.ffn_down_shexp.weight")?.dims.join(","), "96,64", "the shared expert is expert_shared_feed_forward_length wide");
                assert.deepEqual(kvOf(h, "qwen2moe.expert_shared_feed_forward_length"), u32(96));
            }
            assert.ok(tensorOf(hs.at(-1)!, "output.weight") != null, "llama.cpp requires qwen2moe's output.weight: the last stage keeps the head");
        }
    },
    {
        name: "olmoe (4 experts, 2 per token, n_embd-wide q/k norms; gpt-2 BPE vocabulary)",
        spec: { arch: "olmoe", vocab: "gpt-2", layers: 4, type: "f32", tied: false, ...SMALL, kvHeads: 4, experts: 4, expertsUsed: 2, expertFf: 64 },
        splits: ["0-2,2-3,3-4", "0-1,1-2,2-4"], distributed: "0-2,2-3,3-4", allowed: [1, 2, 3],
        stageFiles: (hs) => {
            for (const h of hs) {
                assert.equal(tensorOf(h, "blk.0.attn_k_norm.weight")?.dims.join(","), "64", "the k norm spans all heads");
                assert.equal(tensorOf(h, "blk.0.ffn_up_exps.weight")?.dims.join(","), "64,64,4", "experts are feed_forward_length wide");
                assert.deepEqual(kvOf(h, "olmoe.feed_forward_length"), u32(64));
            }
            assert.ok(tensorOf(hs.at(-1)!, "output.weight") != null, "llama.cpp requires olmoe's output.weight: the last stage keeps the head");
        }
    },
    // Quantized as people download them (llama.cpp's own quantizer; rows of 256 for the k-quants).
    ...(["qwen3moe", "phi3", "gemma3", "mistral3"] as const).map((arch): Case => {
        const kquant = arch !== "mistral3";
        const type = kquant ? "q4_k_m" : "q8_0";
        return {
            name: `${arch} quantized ${type.toUpperCase()}`,
            spec: {
                arch, vocab: arch === "phi3" ? "phi-3" : arch === "mistral3" ? "gpt-2" : "llama-spm", layers: 4, type, tied: arch === "phi3",
                ...(kquant ? { embd: 256, heads: 4, kvHeads: 2, ff: 512, seed: 13 } : { ...SMALL, seed: 13 }),
                ...(arch === "qwen3moe" ? { experts: 4, expertsUsed: 2, expertFf: 256 } : {}),
                ...(arch === "gemma3" ? { slidingWindow: 0 } : {})
            },
            splits: ["0-1,1-3,3-4"], distributed: "0-2,2-3,3-4", allowed: [1, 2, 3],
            stageFiles: (hs) => {
                const want = kquant ? [12, 14] : [8]; // q4_K (Q4_K_M keeps some in q6_K), q8_0
                const matrix = arch === "qwen3moe" ? "ffn_up_exps" : arch === "phi3" ? "attn_qkv" : "attn_q";
                for (const h of hs) assert.ok(want.includes(tensorOf(h, `blk.0.${matrix}.weight`)?.type ?? -1), `${matrix} is ${type}`);
            }
        };
    })
];

const dir = tempDir("architectures");
const coordDir = path.join(dir, "coordinator");
let nodes: NodeProcess[] = [];
before(async () => {
    nodes = await Promise.all(["alpha", "beta", "gamma"].map((n) => startNode(n, path.join(dir, `node-${n}`), ["--lease-ms", "2000"])));
});
after(async () => {
    await Promise.all(nodes.map(stopNode));
    fs.rmSync(dir, { recursive: true, force: true });
});

async function sliceAll(model: string, split: string, layers: number): Promise<string[]> {
    const files = [];
    for (const r of parseLayerRanges(split, layers)) files.push((await sliceStage(model, r, path.join(dir, `${path.basename(model)}.${r.start}-${r.end}.gguf`))).path);
    return files;
}

test("every architecture enabled after llama, qwen2 and qwen3 has a case here", () => {
    const proven = new Set(cases.map((c) => c.spec.arch));
    for (const a of SUPPORTED_ARCHITECTURES) if (!["llama", "qwen2", "qwen3"].includes(a)) assert.ok(proven.has(a), `${a} is enabled but has no test here`);
});

describe("allowedSplitPoints (pure)", () => {
    const meta = (arch: string, entries: Record<string, GgufValue>) =>
        new Map<string, GgufValue>([["general.architecture", str(arch)], ...Object.entries(entries).map(([k, v]) => [`${arch}.${k}`, v] as [string, GgufValue])]);
    test("architectures without a layer pattern allow every point", () => {
        for (const a of ["llama", "qwen2", "qwen3", "qwen3moe", "phi3", "mistral3", "qwen2moe", "olmoe"]) assert.deepEqual(allowedSplitPoints(meta(a, { block_count: u32(5) })), [1, 2, 3, 4], a);
        assert.deepEqual(allowedSplitPoints(meta("phi3", { block_count: u32(4), "attention.sliding_window": u32(2047) })), [1, 2, 3], "llama.cpp turns Phi-3's sliding window off");
    });
    test("sliding-window patterns: multiples of the period (llama.cpp's default or the scalar key; arrays are ignored as llama.cpp does)", () => {
        assert.deepEqual(allowedSplitPoints(meta("gemma2", { block_count: u32(9) })), [2, 4, 6, 8]);
        assert.deepEqual(allowedSplitPoints(meta("gpt-oss", { block_count: u32(6), "attention.sliding_window": u32(128) })), [2, 4]);
        assert.deepEqual(allowedSplitPoints(meta("gemma3", { block_count: u32(26), "attention.sliding_window": u32(512) })), [6, 12, 18, 24], "Gemma 3 1B");
        assert.deepEqual(allowedSplitPoints(meta("gemma3", { block_count: u32(8), "attention.sliding_window": u32(512), "attention.sliding_window_pattern": u32(4) })), [4]);
        const arr: GgufValue = { type: GgufType.ARRAY, itemType: GgufType.UINT32, count: 8, raw: Buffer.alloc(32, 1) };
        assert.deepEqual(allowedSplitPoints(meta("gemma3", { block_count: u32(8), "attention.sliding_window": u32(512), "attention.sliding_window_pattern": arr })), [6]);
        assert.deepEqual(allowedSplitPoints(meta("gemma3", { block_count: u32(4) })), [1, 2, 3], "no sliding_window: no pattern");
        assert.deepEqual(allowedSplitPoints(meta("gemma2", { block_count: u32(4), "attention.sliding_window_pattern": u32(1) })), [1, 2, 3], "period 1: no sliding-window layer");
        assert.deepEqual(allowedSplitPoints(meta("gemma2", { block_count: u32(4), "attention.sliding_window_pattern": u32(0) })), [1, 2, 3], "period 0: every layer sliding-window");
    });
    test("Gemma's 27B attention scale, chosen by the layer count: no split when n_embd/n_head is not the head size", () => {
        const g3 = { "attention.sliding_window": u32(1024), embedding_length: u32(5376), "attention.head_count": u32(32), "attention.key_length": u32(128) };
        assert.deepEqual(allowedSplitPoints(meta("gemma3", { block_count: u32(62), ...g3 })), [], "Gemma 3 27B");
        assert.deepEqual(allowedSplitPoints(meta("gemma3", { block_count: u32(48), ...g3, embedding_length: u32(3840), "attention.head_count": u32(16), "attention.key_length": u32(256) })),
            [6, 12, 18, 24, 30, 36, 42], "Gemma 3 12B: 3840/16 = 240 differs from 256, but a stage of fewer than 62 layers is never taken for 27B");
        assert.deepEqual(allowedSplitPoints(meta("gemma2", { block_count: u32(46), embedding_length: u32(4608), "attention.head_count": u32(32), "attention.key_length": u32(128) })), [], "Gemma 2 27B");
        assert.deepEqual(allowedSplitPoints(meta("gemma2", { block_count: u32(42), embedding_length: u32(3584), "attention.head_count": u32(16), "attention.key_length": u32(256) })).length, 20, "Gemma 2 9B");
    });
    test("architectures that cannot be split give none, and name their reason and where it is tracked", () => {
        assert.deepEqual(allowedSplitPoints(meta("mamba", { block_count: u32(4) })), []);
        for (const [arch, reason] of [["gemma4", /per-layer token embeddings/], ["llama4", /skips RoPE/], ["deepseek2", /leading_dense_block_count/], ["glm4moe", /aborts the process when it is fed embeddings/], ["rwkv7", /recurrent state/], ["phi2", /no test has proven/]] as const)
            assert.throws(() => checkArchitectureSupported(arch, "m.gguf"), (e: Error) => reason.test(e.message) && /tracked in issue 12/.test(e.message) && e.message.includes(`'${arch}'`));
    });
});

for (const c of cases) {
    describe(c.name, () => {
        let model = "";
        let prompt: number[] = [];
        let reference: number[] = [];
        let whole: StepRecord[] = [];
        before(async () => {
            model = await buildModel(dir, c.name.replace(/\W+/g, "_").slice(0, 40), c.spec);
            const tok = await Tokenizer.load(model);
            prompt = tok.encode(PROMPT);
            await tok.dispose();
            reference = await referenceGreedy(model, prompt, GEN, { contextSize: CONTEXT });
            assert.equal(reference.length, GEN);
            assert.ok(new Set(reference).size > 3, `the random model should not repeat one token: ${reference}`);
            const runtime = await StageRuntime.load(model, load);
            try { whole = await runSteps([runtime], 0, prompt, STEPS); } finally { await runtime.dispose(); }
            assert.deepEqual(whole.map((r) => r.token), reference.slice(0, STEPS), "the whole model in one stage runtime is node-llama-cpp");
        }, { timeout: 240000 });

        test(`split points ${c.allowed.join(", ")} are allowed${c.refused ? `, and slicing refuses ${c.refused.split}` : ""}`, { timeout: 60000 }, async () => {
            assert.deepEqual(allowedSplitPoints(readGgufHeader(model).kv), c.allowed);
            // Placement is told the same points: the planner's model shape, and --layers auto over three equal nodes.
            const shape = modelShapeFromHeader(readGgufHeader(model));
            const every = Array.from({ length: c.spec.layers - 1 }, (_, i) => i + 1);
            assert.deepEqual(shape.splitPoints ?? every, c.allowed);
            if (c.allowed.length < every.length) assert.match(shape.splitRule ?? "", /set_swa_pattern/);
            if (c.spec.experts != null) assert.deepEqual(shape.experts, { count: c.spec.experts, used: c.spec.expertsUsed });
            const restricted = c.allowed.length < every.length ? c.allowed : undefined;
            const auto = rangesByMemory(new Array<number>(c.spec.layers).fill(1), ["a", "b", "c"].map((name) => ({ name, freeBytes: 1e9 })), restricted);
            for (const r of auto.slice(1)) assert.ok(c.allowed.includes(r.start), `--layers auto starts a stage at ${r.start}`);
            if (c.refused != null) {
                const ranges = parseLayerRanges(c.refused.split, c.spec.layers);
                const bad = ranges.find((r) => !c.allowed.includes(r.end) && r.end !== c.spec.layers)!;
                await assert.rejects(sliceStage(model, bad, path.join(dir, "refused.gguf")), (e: Error) => c.refused!.message.test(e.message));
                assert.ok(!fs.existsSync(path.join(dir, "refused.gguf")));
            }
        });

        for (const split of c.splits) {
            test(`split ${split}: greedy tokens equal node-llama-cpp, and the logits equal the whole model's bit for bit`, { timeout: 120000 }, async () => {
                const ranges = parseLayerRanges(split, c.spec.layers);
                assert.equal(ranges.length, 3);
                assert.ok(ranges.some((r) => r.end - r.start === 1), "one stage is a single layer");
                const files = await sliceAll(model, split, c.spec.layers);
                c.stageFiles?.(files.map((f) => readGgufHeader(f)), files);
                const pipeline = await LocalPipeline.load(files, load);
                try {
                    assert.deepEqual(await greedyTokens(pipeline, prompt, GEN), reference);
                    for (const s of pipeline.stages) await s.removeSequence(0);
                    const got = await runSteps(pipeline.stages, 0, prompt, STEPS);
                    assert.deepEqual(got.map((r) => r.token), whole.map((r) => r.token));
                    for (const [i, r] of got.entries()) {
                        assert.equal(r.logits.length, whole[i]!.logits.length);
                        assert.equal(maxAbsDiff(r.logits, whole[i]!.logits), 0, `logits differ at step ${i}`);
                    }
                } finally {
                    await pipeline.dispose();
                }
            });
        }

        test(`3 node processes, split ${c.distributed}, default options: greedy tokens equal node-llama-cpp`, { timeout: 180000 }, async () => {
            const p = await connectPipeline({
                modelPath: model, peers: nodes.map((n) => n.address), layers: parseLayerRanges(c.distributed, c.spec.layers),
                cluster: await testCoordinator(), dataDir: coordDir, stage: load
            });
            try {
                assert.equal(p.stages.length, 3);
                assert.deepEqual(await greedyTokens(p, prompt, GEN), reference);
            } finally {
                await p.dispose();
            }
        });
    });
}
