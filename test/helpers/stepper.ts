// Drives stages by hand, one step at a time, recording the last stage's logits.
import assert from "node:assert/strict";
import type { StageOptions } from "../../app/stage/options.ts";
import { StageRuntime, type SamplerParams } from "../../app/stage/runtime.ts";

export interface StepRecord { token: number; logits: Float32Array }

/** Prompt then `n - 1` single-token steps through `stages`; returns every sampled token and its logits. */
export async function runSteps(stages: StageRuntime[], seqId: number, prompt: number[], n: number, sampler: SamplerParams | null = null): Promise<StepRecord[]> {
    const last = stages.at(-1)!;
    await last.setSampler(seqId, sampler);
    const records: StepRecord[] = [];
    let input = Int32Array.from(prompt);
    for (let step = 0; step < n; step++) {
        const pos = stages[0]!.nextPosition(seqId);
        let hidden: Float32Array | undefined;
        for (const [i, s] of stages.entries()) {
            const out = await s.forward({
                seqId, pos, ...(i === 0 ? { tokens: input } : { hidden: hidden! }),
                ...(s.last ? { sample: true, logits: "last" as const, ...(step === 0 ? { accept: input } : {}) } : {})
            });
            hidden = out.hidden;
            if (s.last) records.push({ token: out.token!, logits: out.logits! });
        }
        input = Int32Array.of(records.at(-1)!.token);
    }
    return records;
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
    if (a.length !== b.length) return Infinity;
    let m = 0;
    for (let i = 0; i < a.length; i++) {
        const d = Math.abs(a[i]! - b[i]!);
        if (!(d <= m)) m = d; // NaN propagates as a failure
    }
    return m;
}

/**
 * `steps` steps of `prompt` through `stages` and through the whole `model` in one stage runtime
 * (loaded with `load`): the same tokens, and every step's logits equal bit for bit.
 */
export async function assertLogitsEqualWhole(stages: StageRuntime[], model: string, load: Partial<StageOptions>, prompt: number[], steps: number): Promise<void> {
    const whole = await StageRuntime.load(model, load);
    try {
        const expected = await runSteps([whole], 0, prompt, steps);
        const got = await runSteps(stages, 0, prompt, steps);
        assert.deepEqual(got.map((r) => r.token), expected.map((r) => r.token));
        for (const [i, r] of got.entries()) {
            assert.equal(r.logits.length, whole.nVocab);
            assert.equal(maxAbsDiff(r.logits, expected[i]!.logits), 0, `logits differ at step ${i}`);
        }
    } finally {
        await whole.dispose();
    }
}

