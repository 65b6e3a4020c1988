// Runs the steps of many sequences through one stage: queues them, picks batches with the pure
// batch scheduler, validates each step against the stage's state right before it runs (nothing
// else touches the stage meanwhile), and reports every outcome per step. A refused or failed step
// fails its sequence only; steps of a released sequence are dropped by epoch. The in-process
// pipeline and the node's hosted stages both run their stages through this class.
import { groupLimit, pickBatch } from "./batch-scheduler.ts";
import { StageInputError, type ForwardInput, type StageRuntime } from "./runtime.ts";
import { SamplerParamsError, type SamplerParams } from "./sampler.ts";

export interface ExecutorStep {
    seqId: number;
    /** the sequence slot's use: a new epoch starts a new sequence in the same slot */
    epoch: number;
    pos: number;
    /** the coordinator's correlation id */
    step: number;
    tokens?: Int32Array;
    hidden?: Float32Array;
    /** last stage: sample a token after this step */
    sample: boolean;
    /** last stage: the sequence's sampling, sent with its first step */
    sampler?: SamplerParams | null;
    /** last stage: the sampler's history (the prompt) */
    accept?: Int32Array;
    /** compute time of the stages before this one */
    stageMs: number[];
}

export interface ExecutorOutput {
    hidden?: Float32Array;
    token?: number;
    computeMs: number;
}

export type StepFailureKind = "invalid" | "overloaded" | "failed";

export class StepFailure extends Error {
    constructor(readonly kind: StepFailureKind, message: string) { super(message); this.name = "StepFailure"; }
}

export interface StageExecutorOptions {
    /** stages in the pipeline: sequences are grouped so that each stage has work. Defaults to 1. */
    stageCount?: number;
    /** most steps of one sequence waiting here; more fail that sequence. Defaults to 8, or twice the stages when more */
    maxStepsPerSequence?: number;
    /** a step finished here */
    onOutput: (step: ExecutorStep, output: ExecutorOutput) => void;
    /** a step was refused or failed here; later steps of its (seq, epoch) are dropped until it is released */
    onStepError: (step: ExecutorStep, failure: StepFailure) => void;
    /** a release was applied: nothing of the sequence up to that epoch is left here */
    onReleased?: (seqId: number, epoch: number) => void;
}

interface Waiting extends ExecutorStep { nTokens: number }

type Control = { kind: "remove"; seqId: number; epoch: number; notify: boolean };

interface SequenceState {
    /** the newest epoch seen: older ones are superseded */
    currentEpoch: number;
    /** the highest released epoch: steps up to it are dropped */
    releasedEpoch: number;
    /** an epoch that failed here: its later steps are dropped */
    failedEpoch: number | null;
    waiting: number;
}

export interface ExecutorStats {
    batches: number;
    batchedSequences: number;
    stepsDropped: number;
    stepsFailed: number;
    computeMs: number;
}

export class StageExecutor {
    private pending: Waiting[] = [];
    private readonly controls: Control[] = [];
    private readonly sequences = new Map<number, SequenceState>();
    private running = false;
    private scheduled = false;
    private disposed = false;
    private readonly stageCount: number;
    private readonly maxStepsPerSequence: number;
    readonly stats: ExecutorStats = { batches: 0, batchedSequences: 0, stepsDropped: 0, stepsFailed: 0, computeMs: 0 };

    constructor(readonly stage: StageRuntime, private readonly options: StageExecutorOptions) {
        this.stageCount = options.stageCount ?? 1;
        this.maxStepsPerSequence = options.maxStepsPerSequence ?? Math.max(8, 2 * this.stageCount);
    }

    private sequence(seqId: number): SequenceState {
        let s = this.sequences.get(seqId);
        if (s == null) { s = { currentEpoch: -1, releasedEpoch: -1, failedEpoch: null, waiting: 0 }; this.sequences.set(seqId, s); }
        return s;
    }

    /** Queues a step. Its outcome arrives through onOutput or onStepError (or nothing, if its sequence was released). */
    submit(step: ExecutorStep): void {
        const stage = this.stage;
        const fail = (kind: StepFailureKind, message: string) => this.failStep(step, new StepFailure(kind, message));
        if (this.disposed) return fail("failed", `stage ${stage.describe()} was closed`);
        if (!Number.isInteger(step.seqId) || step.seqId < 0 || step.seqId >= stage.maxSequences)
            return fail("invalid", `sequence id ${step.seqId} is out of range: this stage holds sequences 0-${stage.maxSequences - 1}`);
        const seq = this.sequence(step.seqId);
        if (step.epoch <= seq.releasedEpoch || step.epoch < seq.currentEpoch || step.epoch === seq.failedEpoch) { this.stats.stepsDropped++; return; }
        // A new epoch in a slot whose previous sequence was never released supersedes it.
        if (step.epoch > seq.currentEpoch && seq.currentEpoch > seq.releasedEpoch) this.release(step.seqId, step.epoch - 1, false);
        seq.currentEpoch = step.epoch;
        const nTokens = step.tokens?.length ?? (step.hidden != null ? step.hidden.length / stage.nEmbd : 0);
        if (!Number.isInteger(nTokens) || nTokens < 1 || nTokens > stage.batchSize)
            return fail("invalid", `a step of ${nTokens} tokens is out of range 1-${stage.batchSize}`);
        if (seq.waiting >= this.maxStepsPerSequence)
            return fail("overloaded", `sequence ${step.seqId} already has ${seq.waiting} steps waiting at stage ${stage.describe()}; send the next one when one finishes`);
        seq.waiting++;
        this.pending.push({ ...step, nTokens });
        this.schedule();
    }

    /** Drops everything of a sequence up to `epoch`: waiting steps now, its KV cache after the running batch. */
    release(seqId: number, epoch: number, notify = true): void {
        if (!Number.isInteger(seqId) || seqId < 0 || seqId >= this.stage.maxSequences) return;
        const seq = this.sequence(seqId);
        if (epoch > seq.releasedEpoch) seq.releasedEpoch = epoch;
        if (seq.failedEpoch != null && seq.failedEpoch <= epoch) seq.failedEpoch = null;
        const before = this.pending.length;
        this.pending = this.pending.filter((p) => p.seqId !== seqId || p.epoch > epoch);
        const dropped = before - this.pending.length;
        seq.waiting -= dropped;
        this.stats.stepsDropped += dropped;
        this.controls.push({ kind: "remove", seqId, epoch, notify });
        this.schedule();
    }

    private failStep(step: ExecutorStep, failure: StepFailure) {
        this.stats.stepsFailed++;
        const seq = this.sequences.get(step.seqId);
        if (seq != null && step.epoch > seq.releasedEpoch) {
            seq.failedEpoch = step.epoch;
            // Its later steps cannot succeed: drop them now.
            const before = this.pending.length;
            this.pending = this.pending.filter((p) => p.seqId !== step.seqId || p.epoch !== step.epoch);
            seq.waiting -= before - this.pending.length;
        }
        try {
            this.options.onStepError(step, failure);
        } catch { /* a listener's error is not the stage's */ }
    }

    private schedule() {
        if (this.running || this.scheduled || this.disposed) return;
        this.scheduled = true;
        // One turn of the event loop lets steps that arrived together share a batch.
        setImmediate(() => { this.scheduled = false; void this.pump(); });
    }

    private async pump(): Promise<void> {
        if (this.running || this.disposed) return;
        this.running = true;
        try {
            while (!this.disposed) {
                const control = this.controls.shift();
                if (control != null) { await this.runControl(control); continue; }
                const batch = this.nextBatch();
                if (batch.length === 0) break;
                await this.runBatch(batch);
            }
        } finally {
            this.running = false;
        }
        if (!this.disposed && (this.controls.length > 0 || this.pending.length > 0)) this.schedule();
    }

    private async runControl(control: Control) {
        try {
            // Steps of newer epochs run only after this control, so whatever the stage holds is older.
            if (this.stage.nextPosition(control.seqId) > 0) await this.stage.removeSequence(control.seqId);
        } catch { /* the stage was disposed */ }
        if (control.notify) {
            try { this.options.onReleased?.(control.seqId, control.epoch); } catch { /* listener */ }
        }
    }

    /** The next batch, each step checked against the stage as it is now; refused steps fail alone. */
    private nextBatch(): Waiting[] {
        for (;;) {
            const live = new Set([...this.stage.liveSequences(), ...this.pending.map((p) => p.seqId)]).size;
            const batch = pickBatch(this.pending, {
                batchSize: this.stage.batchSize, batchesExactly: this.stage.batchesExactly, maxGroup: groupLimit(live, this.stageCount)
            });
            if (batch.length === 0) return batch;
            const refused = batch.find((step) => this.check(step) != null);
            if (refused == null) {
                const chosen = new Set(batch);
                this.pending = this.pending.filter((p) => !chosen.has(p));
                for (const step of batch) this.sequence(step.seqId).waiting--;
                return batch;
            }
            const message = this.check(refused)!;
            this.pending = this.pending.filter((p) => p !== refused);
            this.sequence(refused.seqId).waiting--;
            this.failStep(refused, new StepFailure("invalid", message));
        }
    }

    /** Why a step cannot run now, or null. */
    private check(step: Waiting): string | null {
        try {
            this.stage.validate(this.input(step));
            return null;
        } catch (e) {
            return (e as Error).message;
        }
    }

    private input(step: Waiting): ForwardInput {
        return {
            seqId: step.seqId, pos: step.pos,
            ...(step.tokens != null ? { tokens: step.tokens } : { hidden: step.hidden! }),
            ...(this.stage.last ? { sample: step.sample, ...(step.accept != null && step.accept.length > 0 ? { accept: step.accept } : {}) } : {})
        };
    }

    private async runBatch(batch: Waiting[]) {
        const stage = this.stage;
        for (const step of [...batch]) {
            if (!stage.last || step.sampler === undefined) continue;
            try {
                await stage.setSampler(step.seqId, step.sampler);
            } catch (e) {
                batch.splice(batch.indexOf(step), 1);
                this.failStep(step, new StepFailure(e instanceof SamplerParamsError ? "invalid" : "failed", (e as Error).message));
            }
        }
        if (batch.length === 0) return;
        this.stats.batches++;
        this.stats.batchedSequences += batch.length;
        let outputs;
        try {
            outputs = await stage.forwardBatch(batch.map((step) => this.input(step)), { checked: true });
        } catch (e) {
            for (const step of batch) this.failStep(step, new StepFailure(e instanceof StageInputError ? "invalid" : "failed", (e as Error).message));
            return;
        }
        this.stats.computeMs += outputs[0]?.computeMs ?? 0;
        outputs.forEach((out, k) => {
            const step = batch[k]!;
            const seq = this.sequence(step.seqId);
            if (step.epoch <= seq.releasedEpoch) { this.stats.stepsDropped++; return; } // released while it ran
            try {
                this.options.onOutput(step, { computeMs: out.computeMs, ...(out.hidden != null ? { hidden: out.hidden } : {}), ...(out.token != null ? { token: out.token } : {}) });
            } catch { /* a listener's error is not the stage's */ }
        });
    }

    /** Stops taking work; steps still waiting fail. The stage itself is disposed by its owner. */
    dispose(): void {
        if (this.disposed) return;
        const waiting = this.pending;
        this.pending = [];
        this.controls.length = 0;
        for (const step of waiting) this.failStep(step, new StepFailure("failed", `stage ${this.stage.describe()} was closed`));
        this.disposed = true;
    }
}
