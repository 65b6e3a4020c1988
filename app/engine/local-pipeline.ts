// The pipeline in this process: stages one after another, each run by its own StageExecutor (so
// several sequences overlap across stages and batch within one, exactly as on nodes). The
// reference that the distributed pipeline must match, and the engine of `hearth generate --split`.
import { StageExecutor, type ExecutorStep, type StepFailure } from "../stage/stage-executor.ts";
import { StageRuntime } from "../stage/runtime.ts";
import type { StageOptions } from "../stage/options.ts";
import { PipelineError, StepError, type Pipeline, type PipelineShape, type StepRequest, type StepResult } from "./pipeline.ts";
import { SequencePool } from "./sequence-pool.ts";
import { EventHub } from "../util/event-hub.ts";
import { applyPipelineEvent, initialPipelineState, type PipelineEvent, type PipelineState } from "./pipeline-events.ts";

interface Waiter { resolve: (r: StepResult) => void; reject: (e: Error) => void; seqId: number; epoch: number }

export class LocalPipeline implements Pipeline {
    readonly shape: PipelineShape;
    readonly sequences: SequencePool;
    readonly stageNames: readonly string[];
    readonly events = new EventHub<PipelineState, PipelineEvent>(initialPipelineState(), applyPipelineEvent);
    private readonly executors: StageExecutor[];
    private readonly waiters = new Map<number, Waiter>();
    private readonly releases = new Map<string, { left: number; resolve: () => void }>();
    private nextStep = 1;
    private failedWith: PipelineError | null = null;

    private constructor(readonly stages: StageRuntime[]) {
        if (stages.length === 0) throw new Error("a pipeline needs at least one stage");
        stages.forEach((s, i) => {
            if (s.first !== (i === 0)) throw new Error(`stage ${i} (${s.describe()}) is ${s.first ? "" : "not "}a first stage`);
            if (s.last !== (i === stages.length - 1)) throw new Error(`stage ${i} (${s.describe()}) is ${s.last ? "" : "not "}a last stage`);
            const prev = stages[i - 1];
            if (prev != null && prev.range.end !== s.range.start) throw new Error(`stage ${i} starts at layer ${s.range.start} but the previous one ends at ${prev.range.end}`);
        });
        this.shape = {
            stageCount: stages.length, maxSequences: Math.min(...stages.map((s) => s.maxSequences)),
            contextSize: Math.min(...stages.map((s) => s.contextSize)), batchSize: Math.min(...stages.map((s) => s.batchSize))
        };
        this.sequences = new SequencePool(this.shape.maxSequences);
        this.stageNames = stages.map((s) => s.describe());
        this.executors = stages.map((stage, i) => new StageExecutor(stage, {
            stageCount: stages.length,
            onOutput: (step, out) => {
                const stageMs = [...step.stageMs, out.computeMs];
                if (i < stages.length - 1) this.executors[i + 1]!.submit({ ...step, tokens: undefined, hidden: out.hidden!, stageMs } as ExecutorStep);
                else this.finishStep(step, { ...(out.token != null ? { token: out.token } : {}), stageMs });
            },
            onStepError: (step, failure) => this.failStep(step, failure, i),
            onReleased: (seqId, epoch) => this.stageReleased(seqId, epoch)
        }));
        this.events.emit({ type: "opened", pipelineId: "local", stages: stages.map((s) => ({ node: "this machine", address: "", layers: [s.range.start, s.range.end] as [number, number] })) });
    }

    static async load(files: string[], options: Partial<StageOptions> = {}): Promise<LocalPipeline> {
        const stages: StageRuntime[] = [];
        try {
            for (const f of files) stages.push(await StageRuntime.load(f, options));
            return new LocalPipeline(stages);
        } catch (e) {
            await Promise.all(stages.map((s) => s.dispose()));
            throw e;
        }
    }

    /** A pipeline over stages loaded elsewhere (it disposes them). */
    static fromStages(stages: StageRuntime[]): LocalPipeline { return new LocalPipeline(stages); }

    get failure(): PipelineError | null { return this.failedWith; }

    step(request: StepRequest): Promise<StepResult> {
        if (this.failedWith != null) return Promise.reject(this.failedWith);
        const step = this.nextStep++;
        return new Promise<StepResult>((resolve, reject) => {
            this.waiters.set(step, { resolve, reject, seqId: request.seqId, epoch: request.epoch });
            this.executors[0]!.submit({
                seqId: request.seqId, epoch: request.epoch, pos: request.pos, step, tokens: request.tokens, sample: request.sample,
                stageMs: [], ...(request.sampler != null ? { sampler: request.sampler } : {}), ...(request.accept != null ? { accept: request.accept } : {})
            });
        });
    }

    private finishStep(step: ExecutorStep, result: StepResult) {
        const w = this.waiters.get(step.step);
        if (w == null) return;
        this.waiters.delete(step.step);
        w.resolve(result);
    }

    private failStep(step: ExecutorStep, failure: StepFailure, stageIndex: number) {
        const error = new StepError(`stage ${stageIndex + 1} (${this.stageNames[stageIndex]}): ${failure.message}`, step.seqId, this.stageNames[stageIndex], failure.kind);
        // Every waiting step of that sequence fails: it cannot go on.
        for (const [id, w] of this.waiters) {
            if (w.seqId === step.seqId && w.epoch === step.epoch) { this.waiters.delete(id); w.reject(error); }
        }
        // The later stages still hold what they computed of it.
        for (const ex of this.executors.slice(stageIndex + 1)) ex.release(step.seqId, step.epoch, false);
    }

    release(seqId: number, epoch: number): Promise<void> {
        for (const [id, w] of this.waiters) {
            if (w.seqId === seqId && w.epoch <= epoch) { this.waiters.delete(id); w.reject(new StepError(`sequence ${seqId} was released`, seqId)); }
        }
        return new Promise<void>((resolve) => {
            this.releases.set(`${seqId}/${epoch}`, { left: this.executors.length, resolve });
            for (const ex of this.executors) ex.release(seqId, epoch);
        });
    }

    private stageReleased(seqId: number, epoch: number) {
        const key = `${seqId}/${epoch}`;
        const r = this.releases.get(key);
        if (r == null) return;
        if (--r.left === 0) { this.releases.delete(key); r.resolve(); }
    }

    /** Batch counters per stage. */
    stats() { return this.executors.map((e) => ({ ...e.stats })); }

    async dispose(): Promise<void> {
        const closed = new PipelineError("the pipeline was closed");
        this.failedWith ??= closed;
        this.sequences.close(this.failedWith);
        for (const w of this.waiters.values()) w.reject(this.failedWith);
        this.waiters.clear();
        for (const ex of this.executors) ex.dispose();
        for (const r of this.releases.values()) r.resolve();
        this.releases.clear();
        await Promise.all(this.stages.map((s) => s.dispose()));
        this.events.emit({ type: "closed" });
    }
}
