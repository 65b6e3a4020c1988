// Drives stages by hand, one step at a time, recording the last stage's logits.
import type { SamplerParams, StageRuntime } from "../../app/stage/runtime.ts";

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
