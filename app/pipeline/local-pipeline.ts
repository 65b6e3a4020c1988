// Stages run one after another in this process: the reference pipeline that the distributed one
// must match, and the engine of `hearth generate --split`.
import { StageRuntime, type SamplerParams, type StageLoadOptions } from "../stage/runtime.ts";

export interface GenerateOptions {
    seqId?: number;
    promptTokens: readonly number[];
    maxTokens: number;
    sampler?: SamplerParams;
    /** stop after a token for which this returns true (the token is still yielded) */
    isStop?: (token: number) => boolean;
    signal?: AbortSignal;
}

export interface PipelineStats {
    promptTokens: number;
    generatedTokens: number;
    timeToFirstTokenMs: number;
    decodeTokensPerSecond: number;
    /** total compute time per stage, ms */
    stageComputeMs: number[];
}

export class LocalPipeline {
    lastStats: PipelineStats | null = null;

    constructor(readonly stages: StageRuntime[]) {
        if (stages.length === 0) throw new Error("a pipeline needs at least one stage");
        stages.forEach((s, i) => {
            if (s.first !== (i === 0)) throw new Error(`stage ${i} (${s.describe()}) is ${s.first ? "" : "not "}a first stage`);
            if (s.last !== (i === stages.length - 1)) throw new Error(`stage ${i} (${s.describe()}) is ${s.last ? "" : "not "}a last stage`);
            const prev = stages[i - 1];
            if (prev != null && prev.range.end !== s.range.start) throw new Error(`stage ${i} starts at layer ${s.range.start} but the previous one ends at ${prev.range.end}`);
        });
    }

    static async load(files: string[], options: StageLoadOptions = {}): Promise<LocalPipeline> {
        const stages: StageRuntime[] = [];
        try {
            for (const f of files) stages.push(await StageRuntime.load(f, options));
        } catch (e) {
            await Promise.all(stages.map((s) => s.dispose()));
            throw e;
        }
        return new LocalPipeline(stages);
    }

    /** Runs a batch of tokens through every stage; returns the sampled token when `sample`. */
    private async step(seqId: number, tokens: Int32Array, stageMs: number[], sample: boolean, accept?: Int32Array): Promise<number | undefined> {
        const pos = this.stages[0]!.nextPosition(seqId);
        let hidden: Float32Array | undefined;
        let token: number | undefined;
        for (const [i, stage] of this.stages.entries()) {
            const out = await stage.forward({
                seqId, pos,
                ...(i === 0 ? { tokens } : { hidden: hidden! }),
                ...(stage.last ? { sample, ...(accept != null ? { accept } : {}) } : {})
            });
            stageMs[i]! += out.computeMs;
            hidden = out.hidden;
            token = out.token;
        }
        return token;
    }

    async *generate(o: GenerateOptions): AsyncGenerator<number, void, void> {
        const seqId = o.seqId ?? 0;
        const first = this.stages[0]!;
        const last = this.stages.at(-1)!;
        if (o.promptTokens.length === 0) throw new Error("the prompt has no tokens");
        if (first.nextPosition(seqId) !== 0) throw new Error(`sequence ${seqId} is already in use; release it first`);
        await last.setSampler(seqId, o.sampler ?? null);
        const stageMs = this.stages.map(() => 0);
        const t0 = performance.now();
        let tFirst = 0;
        let generated = 0;
        try {
            const prompt = Int32Array.from(o.promptTokens);
            const batch = first.batchSize;
            let token: number | undefined;
            for (let off = 0; off < prompt.length; off += batch) {
                const end = Math.min(prompt.length, off + batch);
                const isLast = end === prompt.length;
                token = await this.step(seqId, prompt.subarray(off, end), stageMs, isLast, isLast ? prompt : undefined);
            }
            while (generated < o.maxTokens) {
                if (o.signal?.aborted) return;
                generated++;
                if (generated === 1) tFirst = performance.now();
                yield token!;
                if (o.isStop?.(token!) || generated >= o.maxTokens) break;
                if (first.nextPosition(seqId) + 1 > first.contextSize) throw new Error(`the sequence reached the context size ${first.contextSize}`);
                token = await this.step(seqId, Int32Array.of(token!), stageMs, true);
            }
        } finally {
            const tEnd = performance.now();
            this.lastStats = {
                promptTokens: o.promptTokens.length,
                generatedTokens: generated,
                timeToFirstTokenMs: tFirst > 0 ? tFirst - t0 : 0,
                decodeTokensPerSecond: generated > 1 ? (generated - 1) / ((tEnd - tFirst) / 1000) : 0,
                stageComputeMs: stageMs
            };
            await this.release(seqId);
        }
    }

    async release(seqId: number): Promise<void> {
        await Promise.all(this.stages.map((s) => s.removeSequence(seqId)));
    }

    async dispose(): Promise<void> {
        await Promise.all(this.stages.map((s) => s.dispose()));
    }
}
