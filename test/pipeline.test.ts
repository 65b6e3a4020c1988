// The pipeline must reproduce the whole model exactly: same greedy tokens as node-llama-cpp, and
// with f32 weights and activations, bit-identical logits.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { Tokenizer } from "../app/model/tokenizer.ts";
import { LocalPipeline } from "../app/pipeline/local-pipeline.ts";
import { StageRuntime } from "../app/stage/runtime.ts";
import { parseLayerRanges, sliceStage } from "../app/stage/slice.ts";
import { SMALL, buildModel, tempDir, type ModelSpec } from "./helpers/models.ts";
import { referenceGreedy } from "./helpers/reference.ts";
import { maxAbsDiff, runSteps } from "./helpers/stepper.ts";

const THREADS = 2;
const CONTEXT = 256;
const GEN = 16;
const PROMPT = "The quick brown fox jumps over the lazy dog. Once upon a time";
const load = { threads: THREADS, contextSize: CONTEXT, flashAttention: false };

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
            reference = await referenceGreedy(model, prompt, GEN, { contextSize: CONTEXT, threads: THREADS, flashAttention: false });
            assert.equal(reference.length, GEN);
            assert.ok(new Set(reference).size > 3, `the random model should not repeat one token: ${reference}`);
        });

        for (const split of c.splits) {
            test(`split ${split}: greedy tokens equal node-llama-cpp on the whole model`, async () => {
                const ranges = parseLayerRanges(split, c.spec.layers);
                const files = [];
                for (const r of ranges) files.push((await sliceStage(model, r, path.join(dir, `${path.basename(model)}.${r.start}-${r.end}.gguf`))).path);
                const pipeline = await LocalPipeline.load(files, load);
                try {
                    const tokens: number[] = [];
                    for await (const t of pipeline.generate({ promptTokens: prompt, maxTokens: GEN, sampler: { temperature: 0 } })) tokens.push(t);
                    assert.deepEqual(tokens, reference);

                    if (c.exactLogits) {
                        const whole = await StageRuntime.load(model, load);
                        try {
                            const expected = await runSteps([whole], 0, prompt, 6);
                            const got = await runSteps(pipeline.stages, 0, prompt, 6);
                            assert.deepEqual(got.map((r) => r.token), expected.map((r) => r.token));
                            for (const [i, r] of got.entries()) {
                                assert.equal(r.logits.length, whole.nVocab);
                                assert.equal(maxAbsDiff(r.logits, expected[i]!.logits), 0, `logits differ at step ${i}`);
                            }
                        } finally {
                            await whole.dispose();
                        }
                    }
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
        files = [];
        for (const r of parseLayerRanges("0-1,1-3,3-4")) files.push((await sliceStage(model, r, path.join(dir, `seq.${r.start}.gguf`))).path);
        const tok = await Tokenizer.load(model);
        prompt = tok.encode(PROMPT);
        await tok.dispose();
    });

    test("two sequences interleaved through the same stages each give what they give alone", async () => {
        const otherPrompt = prompt.slice(0, 5);
        const alone = await LocalPipeline.load(files, load);
        const soloA: number[] = [];
        const soloB: number[] = [];
        for await (const t of alone.generate({ promptTokens: prompt, maxTokens: GEN })) soloA.push(t);
        for await (const t of alone.generate({ promptTokens: otherPrompt, maxTokens: GEN })) soloB.push(t);
        await alone.dispose();
        assert.notDeepEqual(soloA, soloB);

        const shared = await LocalPipeline.load(files, { ...load, maxSequences: 2 });
        try {
            const a = shared.generate({ seqId: 0, promptTokens: prompt, maxTokens: GEN });
            const b = shared.generate({ seqId: 1, promptTokens: otherPrompt, maxTokens: GEN });
            const gotA: number[] = [];
            const gotB: number[] = [];
            // Strictly alternating steps, then both in flight at once.
            for (let i = 0; i < GEN / 2; i++) {
                gotA.push((await a.next()).value as number);
                gotB.push((await b.next()).value as number);
            }
            while (gotA.length < GEN) {
                const [ra, rb] = await Promise.all([a.next(), b.next()]);
                gotA.push(ra.value as number);
                gotB.push(rb.value as number);
            }
            await a.return();
            await b.return();
            assert.deepEqual(gotA, soloA);
            assert.deepEqual(gotB, soloB);
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
            await pipeline.release(0);
            const otherSeed = (await runSteps(pipeline.stages, 0, prompt, GEN, { ...sampler, seed: 99 })).map((r) => r.token);
            assert.notDeepEqual(otherSeed, got, "a different seed should change a 16-token sample");
            await pipeline.release(0);
            const greedy = (await runSteps(pipeline.stages, 0, prompt, GEN, { temperature: 0 })).map((r) => r.token);
            assert.notDeepEqual(greedy, got);
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
            // Replay from the 4th generated token: its logits must be what they were.
            const replay = await runSteps(pipeline.stages, 0, [first[3]!.token], 1);
            // runSteps set up a fresh sampler; compare the logits of the step after token 4.
            assert.equal(maxAbsDiff(replay[0]!.logits, first[4]!.logits), 0);
            assert.equal(replay[0]!.token, first[4]!.token);
        } finally {
            await pipeline.dispose();
        }
    });
});
