// Running generations in tests.
import { generate, type GenerationOptions, type GenerationRequest, type GenerationResult } from "../../app/engine/generate.ts";
import type { Pipeline } from "../../app/engine/pipeline.ts";

/** Greedy tokens of one generation; throws when it failed. */
export async function greedyTokens(pipeline: Pipeline, promptTokens: readonly number[], maxTokens: number, extra: Partial<GenerationRequest> = {}, options: GenerationOptions = {}): Promise<number[]> {
    const result = await generate(pipeline, { promptTokens, maxTokens, sampler: { temperature: 0 }, ...extra }, options).result;
    if (result.stopReason === "failed") throw result.error;
    return result.tokens;
}

export async function run(pipeline: Pipeline, request: GenerationRequest, options: GenerationOptions = {}): Promise<GenerationResult> {
    return generate(pipeline, request, options).result;
}

export const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));
