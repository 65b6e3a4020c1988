// What a generation needs from a pipeline, whatever carries its stages (this process, or nodes
// over gRPC): steps of sequences in, finished steps (sampled tokens) out, releases, and failure.
import type { SamplerParams } from "../stage/sampler.ts";
import type { SequencePool } from "./sequence-pool.ts";
import type { EventHub } from "../util/event-hub.ts";
import type { PipelineEvent, PipelineState } from "./pipeline-events.ts";

export interface PipelineShape {
    stageCount: number;
    maxSequences: number;
    /** KV cells per sequence */
    contextSize: number;
    /** most tokens in one step */
    batchSize: number;
}

export interface StepRequest {
    seqId: number;
    epoch: number;
    /** position of the first token */
    pos: number;
    tokens: Int32Array;
    /** sample a token after this step (the last prompt chunk, and every decode step) */
    sample: boolean;
    /** the sequence's sampling: with its first step */
    sampler?: SamplerParams;
    /** the sampler's history (the prompt), with the step that first samples */
    accept?: Int32Array;
}

export interface StepResult {
    token?: number;
    /** compute time at each stage */
    stageMs: number[];
}

/** A step failed: its sequence cannot go on (the others can). */
export class StepError extends Error {
    constructor(message: string, readonly seqId: number, readonly node?: string, readonly code?: string) {
        super(message);
        this.name = "StepError";
    }
}

/** The pipeline as a whole failed or was closed: nothing more runs on it. */
export class PipelineError extends Error {
    constructor(message: string, readonly node?: string) {
        super(message);
        this.name = "PipelineError";
    }
}

export interface Pipeline {
    readonly shape: PipelineShape;
    readonly sequences: SequencePool;
    /** Names of the machines (or stages) in order, for messages and stats. */
    readonly stageNames: readonly string[];
    /** Runs one step through every stage; rejects with StepError (this sequence) or PipelineError. */
    step(request: StepRequest): Promise<StepResult>;
    /** Drops a sequence (up to this epoch) on every stage; resolves once every stage has. */
    release(seqId: number, epoch: number): Promise<void>;
    /** The pipeline's events (state first, then changes); generations report their start and end here. */
    readonly events: EventHub<PipelineState, PipelineEvent>;
    /** Why the pipeline stopped working, or null while it works. */
    readonly failure: PipelineError | null;
    dispose(): Promise<void>;
}
