// The pipeline must reproduce the whole model exactly: same greedy tokens as node-llama-cpp (with
// default options on both sides), and with f32 weights and activations, bit-identical logits.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { Tokenizer } from "../app/model/tokenizer.ts";
import { LocalPipeline } from "../app/engine/local-pipeline.ts";
import { generate } from "../app/engine/generate.ts";
import { StageRuntime } from "../app/stage/runtime.ts";
import { parseLayerRanges, sliceStage } from "../app/stage/slice.ts";
import { SMALL, buildModel, tempDir, type ModelSpec } from "./helpers/models.ts";
import { referenceGreedy } from "./helpers/reference.ts";
import { testGpuLayers } from "./helpers/gpu.ts";
import { assertLogitsEqualWhole, maxAbsDiff, runSteps } from "./helpers/stepper.ts";
import { greedyTokens } from "./helpers/generation.ts";
import { concurrentChats, scheduleFixture, staggeredChats } from "./helpers/scenarios.ts";

const CONTEXT = 256;
const GEN = 16;
const PROMPT = "The quick brown fox jumps over the lazy dog. Once upon a time";
/** Default options everywhere (flash attention "auto", all cores), as a user runs it. */
/** Stage options: a small context, and the GPU when this machine has one (as the reference). */
const load = { contextSize: CONTEXT, maxSequences: 1, gpuLayers: await testGpuLayers() };

interface Case { name: string; spec: ModelSpec; splits: string[]; exactLogits: boolean }

const cases: Case[] = [
    { name: "llama f32 untied (llama-spm)", spec: { arch: "llama", vocab: "llama-spm", layers: 4, type: "f32", tied: false, ...SMALL }, splits: ["0-2,2-4", "0-1,1-3,3-4"], exactLogits: true },
    { name: "llama q4_0 tied (llama-bpe, k-quant head)", spec: { arch: "llama", vocab: "llama-bpe", layers: 5, type: "q4_0", tied: true, ...SMALL, embd: 256, heads: 8, kvHeads: 4, ff: 512 }, splits: ["0-1,1-4,4-5", "0-4,4-5"], exactLogits: false },
    { name: "qwen2 f32 tied (qkv bias)", spec: { arch: "qwen2", vocab: "qwen2", layers: 4, type: "f32", tied: true, ...SMALL }, splits: ["0-1,1-3,3-4", "0-3,3-4"], exactLogits: true },
    { name: "qwen2 q8_0 untied (qkv bias)", spec: { arch: "qwen2", vocab: "qwen2", layers: 3, type: "q8_0", tied: false, ...SMALL }, splits: ["0-2,2-3"], exactLogits: false },
    { name: "qwen3 f32 untied (q/k norm)", spec: { arch: "qwen3", vocab: "qwen2", layers: 6, type: "f32", tied: false, ...SMALL }, splits: ["0-3,3-6", "0-2,2-5,5-6"], exactLogits: true },
    { name: "qwen3 f16 tied (q/k norm)", spec: { arch: "qwen3", vocab: "llama-bpe", layers: 4, type: "f16", tied: true, ...SMALL }, splits: ["0-3,3-4"], exactLogits: false },
    { name: "llama q4_0 untied (llama-spm)", spec: { arch: "llama", vocab: "llama-spm", layers: 4, type: "q4_0", tied: false, ...SMALL }, splits: ["0-1,1-2,2-4"], exactLogits: false }
];

const dir = tempDir("pipeline");
after(() => fs.rmSync(dir, { recursive: true, force: true }));

async function sliceAll(model: string, split: string, layers: number, tag: string): Promise<string[]> {
    const files = [];
    for (const r of parseLayerRanges(split, layers)) files.push((await sliceStage(model, r, path.join(dir, `${path.basename(model)}.${tag}.${r.start}-${r.end}.gguf`))).path);
    return files;
}

for (const c of cases) {
    describe(c.name, () => {
        let model = "";
        let prompt: number[] = [];
        let reference: number[] = [];
        before(async () => {
            model = await buildModel(dir, c.name.replace(/\W+/g, "_"), c.spec);
            const tok = await Tokenizer.load(model);
            prompt = tok.encode(PROMPT);
            await tok.dispose();
            reference = await referenceGreedy(model, prompt, GEN, { contextSize: CONTEXT });
            assert.equal(reference.length, GEN);
            assert.ok(new Set(reference).size > 3, `the random model should not repeat one token: ${reference}`);
        });

        for (const split of c.splits) {
            test(`split ${split}: greedy tokens equal node-llama-cpp on the whole model, both with default options`, async () => {
                const pipeline = await LocalPipeline.load(await sliceAll(model, split, c.spec.layers, "s"), load);
                try {
                    assert.deepEqual(await greedyTokens(pipeline, prompt, GEN), reference);
                    if (c.exactLogits) await assertLogitsEqualWhole(pipeline.stages, model, load, prompt, 6);
                } finally {
                    await pipeline.dispose();
                }
            });
        }
    });
}

describe("sequences and sampling", () => {
    let model = "";
    let files: string[] = [];
    let prompt: number[] = [];
    before(async () => {
        model = await buildModel(dir, "seq-llama", { arch: "llama", vocab: "llama-spm", layers: 4, type: "f32", tied: false, ...SMALL });
        files = await sliceAll(model, "0-1,1-3,3-4", 4, "seq");
        const tok = await Tokenizer.load(model);
        prompt = tok.encode(PROMPT);
        await tok.dispose();
    });

    test("two generations at once through the same stages each give what they give alone", async () => {
        const otherPrompt = prompt.slice(0, 5);
        const alone = await LocalPipeline.load(files, load);
        const soloA = await greedyTokens(alone, prompt, GEN);
        const soloB = await greedyTokens(alone, otherPrompt, GEN);
        await alone.dispose();
        assert.notDeepEqual(soloA, soloB);
        const shared = await LocalPipeline.load(files, { ...load, maxSequences: 2 });
        try {
            const [a, b] = await Promise.all([greedyTokens(shared, prompt, GEN), greedyTokens(shared, otherPrompt, GEN)]);
            assert.deepEqual(a, soloA);
            assert.deepEqual(b, soloB);
            const infos = await Promise.all(shared.stages.map((s) => s.info()));
            for (const info of infos) assert.deepEqual(info.sequences, [], "sequences are released after generation");
        } finally {
            await shared.dispose();
        }
    });

    test("sampling (temperature, top-k, top-p, min-p, repeat penalty, seed) on the last stage equals one context", async () => {
        const sampler = { temperature: 0.9, topK: 40, topP: 0.9, minP: 0.01, repeatPenalty: 1.3, repeatLastN: 32, seed: 1234 };
        const whole = await StageRuntime.load(model, load);
        const pipeline = await LocalPipeline.load(files, load);
        try {
            const expected = (await runSteps([whole], 0, prompt, GEN, sampler)).map((r) => r.token);
            const got = (await runSteps(pipeline.stages, 0, prompt, GEN, sampler)).map((r) => r.token);
            assert.deepEqual(got, expected);
            await Promise.all(pipeline.stages.map((s) => s.removeSequence(0)));
            const otherSeed = (await runSteps(pipeline.stages, 0, prompt, GEN, { ...sampler, seed: 99 })).map((r) => r.token);
            assert.notDeepEqual(otherSeed, got, "a different seed should change a 16-token sample");
            await Promise.all(pipeline.stages.map((s) => s.removeSequence(0)));
            // Through the generation loop: the same seed repeats, and no seed means a random one.
            const viaEngine = (seed?: number) => generate(pipeline, { promptTokens: prompt, maxTokens: GEN, sampler: { ...sampler, seed } }).result.then((r) => r.tokens);
            assert.deepEqual(await viaEngine(1234), got, "the generation loop samples exactly like one context");
            const unseeded = [await viaEngine(undefined), await viaEngine(undefined), await viaEngine(undefined)];
            assert.ok(unseeded.some((t) => JSON.stringify(t) !== JSON.stringify(unseeded[0])), "without a seed, repeat runs differ");
        } finally {
            await whole.dispose();
            await pipeline.dispose();
        }
    });

    test("truncating a sequence's KV cache and replaying gives identical logits", async () => {
        const pipeline = await LocalPipeline.load(files, load);
        try {
            const first = await runSteps(pipeline.stages, 0, prompt, 8);
            const cut = prompt.length + 3; // keep the prompt and 3 generated tokens
            for (const s of pipeline.stages) await s.truncate(0, cut);
            assert.ok(pipeline.stages.every((s) => s.nextPosition(0) === cut));
            const replay = await runSteps(pipeline.stages, 0, [first[3]!.token], 1);
            assert.equal(maxAbsDiff(replay[0]!.logits, first[4]!.logits), 0);
            assert.equal(replay[0]!.token, first[4]!.token);
        } finally {
            await pipeline.dispose();
        }
    });
});

describe("schedules users produce, in this process (quantized stages batch sequences)", () => {
    let model = "";
    let prompts: number[][] = [];
    let refs: number[][] = [];
    before(async () => { ({ model, prompts, refs } = await scheduleFixture(dir, "sched-q8", CONTEXT)); });

    test("staggered chats, a freed slot reused while others decode: each equals its own reference", async () => {
        // Two stages and three sequences: groups of two share a batch, so ids meet in every order.
        const pipeline = await LocalPipeline.load(await sliceAll(model, "0-2,2-4", 4, "sched"), { ...load, maxSequences: 3, threads: 1 });
        try {
            await staggeredChats(pipeline, prompts, refs);
            await concurrentChats(pipeline, prompts.slice(0, 3), refs, 12);
            const stats = pipeline.stats();
            assert.ok(stats.some((s) => s.batchedSequences > s.batches), `some batch held several sequences: ${JSON.stringify(stats)}`);
        } finally {
            await pipeline.dispose();
        }
    });
});
