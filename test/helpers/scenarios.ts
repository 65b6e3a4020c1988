// Schedules users produce, run the same way on any pipeline (in this process or over nodes).
import assert from "node:assert/strict";
import { generate, type Generation } from "../../app/engine/generate.ts";
import type { Pipeline } from "../../app/engine/pipeline.ts";
import { Tokenizer } from "../../app/model/tokenizer.ts";
import { SMALL, buildModel } from "./models.ts";
import { referenceGreedy } from "./reference.ts";

/** The chats of the schedules below: prompts of different lengths. */
export const CHAT_PROMPTS = ["The quick brown fox jumps over", "Once upon a time in a land far away, there lived a king who", "Hello, world!", "Numbers: 1, 2, 3, 4, 5"];

/**
 * A quantized model whose stages batch sequences (q8_0), the chats' prompt tokens, and each chat's
 * greedy reference from node-llama-cpp (16 tokens, default options).
 */
export async function scheduleFixture(dir: string, name: string, contextSize: number): Promise<{ model: string; prompts: number[][]; refs: number[][] }> {
    const model = await buildModel(dir, name, { arch: "llama", vocab: "llama-bpe", layers: 4, type: "q8_0", tied: false, ...SMALL, embd: 128, ff: 256 });
    const tok = await Tokenizer.load(model);
    const prompts = CHAT_PROMPTS.map((p) => tok.encode(p));
    await tok.dispose();
    const refs: number[][] = [];
    for (const p of prompts) refs.push(await referenceGreedy(model, p, 16, { contextSize }));
    return { model, prompts, refs };
}

/** Resolves once `g` has produced `n` tokens (or ended). */
export async function afterTokens(g: Generation, n: number): Promise<void> {
    let seen = 0;
    for await (const e of g) if (e.type === "token" && ++seen >= n) return;
}

/**
 * Chats that start and end at different times, with different prompt lengths, and a new chat
 * taking a freed sequence slot while the others decode: each must equal its own reference.
 * `refs[i]` is the greedy reference of `prompts[i]` (at least 14 tokens); needs 4 prompts and a
 * pipeline of at least 3 sequences.
 */
export async function staggeredChats(pipeline: Pipeline, prompts: number[][], refs: number[][]): Promise<void> {
    const greedy = { temperature: 0 };
    const a = generate(pipeline, { promptTokens: prompts[0]!, maxTokens: 5, sampler: greedy });
    await afterTokens(a, 2);
    const b = generate(pipeline, { promptTokens: prompts[1]!, maxTokens: 14, sampler: greedy });
    await afterTokens(b, 1);
    const c = generate(pipeline, { promptTokens: prompts[2]!, maxTokens: 12, sampler: greedy });
    const ra = await a.result;
    // A's slot is free: D takes it while B and C are decoding (its id now sits below theirs).
    const d = generate(pipeline, { promptTokens: prompts[3]!, maxTokens: 10, sampler: greedy });
    const [rb, rc, rd] = await Promise.all([b.result, c.result, d.result]);
    for (const [name, r, ref, n] of [["A", ra, refs[0]!, 5], ["B", rb, refs[1]!, 14], ["C", rc, refs[2]!, 12], ["D", rd, refs[3]!, 10]] as const) {
        assert.equal(r.stopReason, "maxTokens", `chat ${name}: ${r.error?.message ?? r.stopReason}`);
        assert.deepEqual(r.tokens, ref.slice(0, n), `chat ${name} equals its own single-context reference`);
    }
    assert.equal(rd.seqId, ra.seqId, "the new chat took the freed slot");
}

/** Several chats started together; each equals its reference. */
export async function concurrentChats(pipeline: Pipeline, prompts: number[][], refs: number[][], maxTokens: number): Promise<void> {
    const results = await Promise.all(prompts.map((p) => generate(pipeline, { promptTokens: p, maxTokens, sampler: { temperature: 0 } }).result));
    results.forEach((r, i) => {
        assert.equal(r.stopReason, "maxTokens", r.error?.message);
        assert.deepEqual(r.tokens, refs[i]!.slice(0, maxTokens), `chat ${i}`);
    });
}
