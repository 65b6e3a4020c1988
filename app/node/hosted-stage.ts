// One stage of one pipeline on this node: the loaded stage, its executor, its memory reservation,
// its link to the next stage, and the coordinator's Attach streams that hold it. A stage that
// nobody holds is closed after the lease time, so a coordinator that died leaks nothing.
import * as grpc from "@grpc/grpc-js";
import type { NativeAddon } from "../native/addon.ts";
import type { StageRuntime } from "../stage/runtime.ts";
import { StageExecutor, type ExecutorStep, type StepFailure } from "../stage/stage-executor.ts";
import type { SamplerParams } from "../stage/sampler.ts";
import type { Activation__Output, DType, PipelineEvent, Release__Output, SamplerParams__Output } from "../protocol/proto.ts";
import { bytesPerValue, decodeHidden, encodeHidden } from "./activations.ts";
import type { DownstreamLink } from "./downstream.ts";
import type { Reservation } from "./resources.ts";
import type { NodeEvent } from "./events.ts";
import { NodeError, invalid } from "./errors.ts";

export interface HostedStageOptions {
    pipelineId: string;
    stageIndex: number;
    stageCount: number;
    modelSha256: string;
    stageSha256: string;
    /** the member (node id) that prepared it: only it may hold or close the stage */
    ownerNodeId: string;
    ownerName: string;
    /** Forward streams into this stage must present it */
    pipelineKey: string;
    nodeName: string;
    /** how hidden states leave this stage */
    activations: DType;
    /** how long the stage stays loaded while nobody holds it */
    leaseMs: number;
    addon: NativeAddon;
    emit: (event: NodeEvent) => void;
    onClosed: (stage: HostedStage) => void;
}

type Holder = grpc.ServerWritableStream<unknown, PipelineEvent>;

const FAILURE_CODE: Record<StepFailure["kind"], grpc.status> = {
    invalid: grpc.status.INVALID_ARGUMENT, overloaded: grpc.status.RESOURCE_EXHAUSTED, failed: grpc.status.INTERNAL
};

function samplerFromWire(s: SamplerParams__Output): SamplerParams {
    return {
        temperature: s.temperature, topK: s.topK, topP: s.topP, minP: s.minP, repeatPenalty: s.repeatPenalty, repeatLastN: s.repeatLastN,
        frequencyPenalty: s.frequencyPenalty, presencePenalty: s.presencePenalty, seed: s.seed
    };
}

export class HostedStage {
    readonly executor: StageExecutor;
    private readonly holders = new Set<Holder>();
    private leaseTimer: NodeJS.Timeout | null = null;
    private closed = false;
    private readonly sequences = new Map<number, { epoch: number; steps: number; tokens: number; computeMs: number }>();

    constructor(readonly stage: StageRuntime, readonly reservation: Reservation, readonly downstream: DownstreamLink | null, readonly options: HostedStageOptions) {
        this.executor = new StageExecutor(stage, {
            stageCount: options.stageCount,
            onOutput: (step, out) => this.route(step, out.computeMs, out.hidden, out.token),
            onStepError: (step, failure) => this.stepFailed(step, failure.message, FAILURE_CODE[failure.kind]),
            onReleased: (seqId, epoch) => this.released(seqId, epoch)
        });
        this.startLease();
    }

    get key(): string { return `${this.options.pipelineId}/${this.options.stageIndex}`; }
    get holderCount(): number { return this.holders.size; }
    get isClosed(): boolean { return this.closed; }

    // ---- holding -------------------------------------------------------------------------------

    /** A coordinator's Attach stream: it holds the stage and receives its events. */
    hold(call: Holder, callerNodeId: string): void {
        if (callerNodeId !== this.options.ownerNodeId)
            throw new NodeError(grpc.status.PERMISSION_DENIED, `pipeline ${this.options.pipelineId} belongs to '${this.options.ownerName}'; only it may hold its stages`);
        this.holders.add(call);
        if (this.leaseTimer != null) { clearTimeout(this.leaseTimer); this.leaseTimer = null; }
        call.write({ attached: { stageIndex: this.options.stageIndex } });
        this.options.emit({ type: "stageHeld", pipelineId: this.options.pipelineId, stageIndex: this.options.stageIndex, holders: this.holders.size });
        const drop = () => {
            if (!this.holders.delete(call)) return;
            this.options.emit({ type: "stageHeld", pipelineId: this.options.pipelineId, stageIndex: this.options.stageIndex, holders: this.holders.size });
            if (this.holders.size === 0) this.startLease();
        };
        call.on("cancelled", drop);
        call.on("error", drop);
        call.on("close", drop);
    }

    private startLease() {
        if (this.closed || this.leaseTimer != null) return;
        this.leaseTimer = setTimeout(() => { this.leaseTimer = null; void this.close("no coordinator has held it for the lease time"); }, this.options.leaseMs);
        this.leaseTimer.unref();
    }

    private tell(event: PipelineEvent) {
        for (const h of this.holders) h.write(event);
    }

    // ---- the activation stream -----------------------------------------------------------------

    /** A message from the Forward stream (already checked to be for this stage). Throws NodeError for a malformed one. */
    acceptActivation(msg: Activation__Output): void {
        const stage = this.stage;
        if (msg.nTokens < 1 || msg.nTokens > stage.batchSize) throw invalid(`n_tokens ${msg.nTokens} is out of range 1-${stage.batchSize}`);
        if (msg.seqId >= stage.maxSequences) throw invalid(`unknown sequence ${msg.seqId}: this stage holds sequences 0-${stage.maxSequences - 1}`);
        let input: { tokens: Int32Array } | { hidden: Float32Array };
        if (stage.first) {
            if (msg.hidden.length > 0 || msg.tokens.length !== msg.nTokens) throw invalid(`the first stage takes ${msg.nTokens} token ids and no hidden states`);
            input = { tokens: Int32Array.from(msg.tokens) };
        } else {
            const bpv = bytesPerValue(msg.dtype);
            if (bpv == null) throw invalid("hidden states need a dtype (F32 or F16)");
            if (msg.tokens.length > 0) throw invalid("this stage takes hidden states, not token ids");
            const want = msg.nTokens * stage.nEmbd * bpv;
            if (msg.hidden.length !== want) throw invalid(`hidden states of ${msg.hidden.length} bytes do not match ${msg.nTokens} tokens × ${stage.nEmbd} values × ${bpv} bytes = ${want}`);
            input = { hidden: decodeHidden(this.options.addon, msg.hidden, msg.dtype) };
        }
        this.track(msg.seqId, msg.epoch, msg.nTokens);
        this.executor.submit({
            seqId: msg.seqId, epoch: msg.epoch, pos: msg.pos, step: msg.step, ...input, sample: msg.sample, stageMs: msg.stageMs,
            ...(msg.sampler != null ? { sampler: samplerFromWire(msg.sampler) } : {}),
            ...(msg.accept.length > 0 ? { accept: Int32Array.from(msg.accept) } : {})
        });
    }

    acceptRelease(msg: Release__Output): void {
        if (msg.seqId >= this.stage.maxSequences) throw invalid(`unknown sequence ${msg.seqId}: this stage holds sequences 0-${this.stage.maxSequences - 1}`);
        this.executor.release(msg.seqId, msg.epoch, this.stage.last);
        // In order behind every activation this stage already sent on.
        if (this.downstream != null && !this.downstream.send({ release: { ...msg, stageIndex: this.options.stageIndex + 1 } }))
            this.tell({ link: { nextAddress: this.downstream.address, connected: false, message: `a release of sequence ${msg.seqId} could not be passed on: ${this.downstream.lastError}` } });
        this.finishSequence(msg.seqId, msg.epoch);
    }

    private track(seqId: number, epoch: number, tokens: number) {
        let s = this.sequences.get(seqId);
        if (s == null || s.epoch < epoch) {
            if (s != null) this.finishSequence(seqId, s.epoch);
            s = { epoch, steps: 0, tokens: 0, computeMs: 0 };
            this.sequences.set(seqId, s);
            this.options.emit({ type: "sequenceStarted", pipelineId: this.options.pipelineId, stageIndex: this.options.stageIndex, seqId, epoch });
        }
        s.steps++;
        s.tokens += tokens;
    }

    private finishSequence(seqId: number, epoch: number) {
        const s = this.sequences.get(seqId);
        if (s == null || s.epoch > epoch) return;
        this.sequences.delete(seqId);
        this.options.emit({ type: "sequenceFinished", pipelineId: this.options.pipelineId, stageIndex: this.options.stageIndex, seqId, epoch: s.epoch, steps: s.steps, tokens: s.tokens, computeMs: s.computeMs });
    }

    /** A stage's output goes on: hidden states to the next stage, or the finished step to the coordinator. */
    private route(step: ExecutorStep, computeMs: number, hidden: Float32Array | undefined, token: number | undefined) {
        const s = this.sequences.get(step.seqId);
        if (s != null && s.epoch === step.epoch) s.computeMs += computeMs;
        const stageMs = [...step.stageMs, computeMs];
        if (this.stage.last) {
            this.tell({ result: { seqId: step.seqId, epoch: step.epoch, step: step.step, sampled: token != null, token: token ?? -1, stageMs } });
            return;
        }
        const sent = this.downstream!.send({
            activation: {
                pipelineId: this.options.pipelineId, stageIndex: this.options.stageIndex + 1, seqId: step.seqId, epoch: step.epoch, pos: step.pos,
                nTokens: hidden!.length / this.stage.nEmbd, tokens: [], hidden: encodeHidden(this.options.addon, hidden!, this.options.activations),
                dtype: this.options.activations, sample: step.sample, step: step.step, stageMs,
                ...(step.sampler != null ? { sampler: step.sampler } : {}), ...(step.accept != null ? { accept: Array.from(step.accept) } : {})
            }
        });
        if (!sent) this.stepFailed(step, `the next stage (${this.downstream!.address}) is unreachable: ${this.downstream!.lastError}`, grpc.status.UNAVAILABLE, this.downstream!.address);
    }

    private stepFailed(step: ExecutorStep, message: string, code: grpc.status, node = this.options.nodeName) {
        this.tell({ error: { seqId: step.seqId, epoch: step.epoch, step: step.step, node, message, grpcCode: code } });
        this.options.emit({ type: "stepFailed", pipelineId: this.options.pipelineId, stageIndex: this.options.stageIndex, seqId: step.seqId, epoch: step.epoch, message });
    }

    private released(seqId: number, epoch: number) {
        if (this.stage.last) this.tell({ released: { seqId, epoch } });
    }

    linkChanged(connected: boolean, message: string) {
        if (this.downstream == null) return;
        this.tell({ link: { nextAddress: this.downstream.address, connected, message } });
        this.options.emit({ type: "linkChanged", pipelineId: this.options.pipelineId, stageIndex: this.options.stageIndex, nextAddress: this.downstream.address, connected, message });
    }

    status() {
        return {
            pipelineId: this.options.pipelineId, stageIndex: this.options.stageIndex, modelSha256: this.options.modelSha256,
            layerStart: this.stage.range.start, layerEnd: this.stage.range.end, layerTotal: this.stage.layerTotal,
            liveSequences: this.stage.liveSequences(), batches: this.executor.stats.batches, batchedSequences: this.executor.stats.batchedSequences,
            batchesExactly: this.stage.batchesExactly, memoryBytes: this.reservation.bytes, holders: this.holders.size,
            stepsDropped: this.executor.stats.stepsDropped, stepsFailed: this.executor.stats.stepsFailed
        };
    }

    async close(reason: string): Promise<void> {
        if (this.closed) return;
        this.closed = true;
        if (this.leaseTimer != null) clearTimeout(this.leaseTimer);
        this.executor.dispose();
        this.downstream?.close();
        for (const h of this.holders) { try { h.end(); } catch { /* gone */ } }
        this.holders.clear();
        try {
            await this.stage.dispose();
        } finally {
            this.reservation.release();
            this.options.emit({ type: "pipelineClosed", pipelineId: this.options.pipelineId, stageIndex: this.options.stageIndex, reason });
            this.options.onClosed(this);
        }
    }
}
