// The coordinator's side of a distributed pipeline, as a Pipeline for the generation engine:
// token ids go into the first stage's Forward stream; the coordinator holds every stage with an
// Attach stream, on which the last stage reports finished steps and any stage reports a failed
// step (failing that sequence only). A stage's node that goes away fails the pipeline.
import * as grpc from "@grpc/grpc-js";
import { PipelineError, StepError, type Pipeline, type PipelineShape, type StepRequest, type StepResult } from "../engine/pipeline.ts";
import { SequencePool } from "../engine/sequence-pool.ts";
import { EventHub } from "../util/event-hub.ts";
import { grpcMessage, type NodeClient } from "../protocol/node-client.ts";
import type { DType, ForwardMessage, PipelineEvent__Output } from "../protocol/proto.ts";
import type { PreparedStage } from "./distributor.ts";
import { applyPipelineEvent, initialPipelineState, type PipelineEvent as CoordinatorEvent, type PipelineState } from "../engine/pipeline-events.ts";

/** how long a release waits for the last stage's acknowledgement */
const RELEASE_ACK_MS = 30000;

interface Waiter { resolve: (r: StepResult) => void; reject: (e: Error) => void; seqId: number; epoch: number }

export interface RemotePipelineOptions {
    pipelineId: string;
    pipelineKey: string;
    stages: PreparedStage[];
    shape: PipelineShape;
    activations: DType;
    events?: EventHub<PipelineState, CoordinatorEvent>;
}

export class RemotePipeline implements Pipeline {
    readonly shape: PipelineShape;
    readonly sequences: SequencePool;
    readonly stageNames: readonly string[];
    readonly events: EventHub<PipelineState, CoordinatorEvent>;
    private forwardStream: grpc.ClientWritableStream<ForwardMessage> | null = null;
    private readonly attachStreams: Array<grpc.ClientReadableStream<PipelineEvent__Output>> = [];
    private readonly waiters = new Map<number, Waiter>();
    private readonly releases = new Map<string, () => void>();
    private nextStep = 1;
    private failedWith: PipelineError | null = null;
    private closing = false;

    private constructor(readonly options: RemotePipelineOptions) {
        this.shape = options.shape;
        this.sequences = new SequencePool(options.shape.maxSequences);
        this.stageNames = options.stages.map((s) => s.client.name);
        this.events = options.events ?? new EventHub(initialPipelineState(), applyPipelineEvent);
    }

    get pipelineId(): string { return this.options.pipelineId; }
    get stages(): readonly PreparedStage[] { return this.options.stages; }
    get clients(): NodeClient[] { return this.options.stages.map((s) => s.client); }
    get failure(): PipelineError | null { return this.failedWith; }

    /** Opens the activation stream over stages the distributor prepared and holds. */
    static async open(options: RemotePipelineOptions): Promise<RemotePipeline> {
        const p = new RemotePipeline(options);
        try {
            p.listen();
            const first = options.stages[0]!.client;
            const md = first.metadata();
            md.set("x-hearth-pipeline-key", options.pipelineKey);
            const stream = first.raw.forward(md, (e) => {
                if (e != null) p.fail(new PipelineError(`node '${first.name}' (${first.address}, first stage) ended the activation stream: ${grpcMessage(e)}`, first.name));
                else if (!p.closing) p.fail(new PipelineError(`node '${first.name}' closed the activation stream`, first.name));
            });
            p.forwardStream = stream;
            p.events.emit({ type: "opened", pipelineId: options.pipelineId, stages: options.stages.map((s) => ({ node: s.client.name, address: s.client.address, layers: [s.range.start, s.range.end] as [number, number] })) });
            return p;
        } catch (e) {
            p.teardownStreams();
            throw e;
        }
    }

    /** Listens to the streams that hold the stages (opened by the distributor). */
    private listen() {
        this.options.stages.forEach((s, i) => {
            const c = s.client;
            const stream = s.hold;
            this.attachStreams.push(stream);
            stream.on("data", (ev: PipelineEvent__Output) => this.onEvent(ev, i));
            stream.on("error", (e: grpc.ServiceError) => {
                if (!this.closing) this.fail(new PipelineError(`node '${c.name}' (${c.address}, stage ${i + 1}) is unreachable: ${grpcMessage(e)}`, c.name));
            });
            stream.on("end", () => {
                if (!this.closing) this.fail(new PipelineError(`node '${c.name}' (${c.address}) dropped its stage (it restarted or freed it)`, c.name));
            });
            stream.resume();
        });
    }

    private onEvent(ev: PipelineEvent__Output, stageIndex: number) {
        if (ev.result != null) {
            const w = this.waiters.get(ev.result.step);
            if (w == null || w.seqId !== ev.result.seqId || w.epoch !== ev.result.epoch) return; // a released sequence's late result
            this.waiters.delete(ev.result.step);
            w.resolve({ ...(ev.result.sampled ? { token: ev.result.token } : {}), stageMs: ev.result.stageMs });
        } else if (ev.error != null) {
            const e = ev.error;
            const node = e.node || this.stageNames[stageIndex]!;
            const error = new StepError(`node '${node}' (stage ${stageIndex + 1}): ${e.message}`, e.seqId, node, grpc.status[e.grpcCode] ?? String(e.grpcCode));
            this.failSequence(e.seqId, e.epoch, error);
        } else if (ev.released != null) {
            const key = `${ev.released.seqId}/${ev.released.epoch}`;
            this.releases.get(key)?.();
            this.releases.delete(key);
        } else if (ev.link != null) {
            this.events.emit({ type: "linkChanged", stageIndex, nextAddress: ev.link.nextAddress, connected: ev.link.connected, message: ev.link.message });
            if (!ev.link.connected) {
                // Steps beyond the broken link are lost: every sequence with a step in flight fails.
                const error = new StepError(`the link from node '${this.stageNames[stageIndex]}' to node '${this.stageNames[stageIndex + 1] ?? "the next stage"}' (${ev.link.nextAddress}) broke: ${ev.link.message}`, -1, this.stageNames[stageIndex]);
                for (const w of [...this.waiters.values()]) this.failSequence(w.seqId, w.epoch, error);
            }
        }
    }

    private failSequence(seqId: number, epoch: number, error: StepError) {
        for (const [id, w] of this.waiters) {
            if (w.seqId === seqId && w.epoch === epoch) { this.waiters.delete(id); w.reject(error); }
        }
    }

    private fail(e: PipelineError) {
        if (this.failedWith != null) return;
        this.failedWith = e;
        this.sequences.close(e);
        for (const w of this.waiters.values()) w.reject(e);
        this.waiters.clear();
        for (const r of this.releases.values()) r();
        this.releases.clear();
        if (!this.closing) this.events.emit({ type: "failed", message: e.message, ...(e.node != null ? { node: e.node } : {}) });
    }

    step(request: StepRequest): Promise<StepResult> {
        if (this.failedWith != null) return Promise.reject(this.failedWith);
        const step = this.nextStep++;
        return new Promise<StepResult>((resolve, reject) => {
            this.waiters.set(step, { resolve, reject, seqId: request.seqId, epoch: request.epoch });
            const s = request.sampler;
            this.forwardStream!.write({
                activation: {
                    pipelineId: this.options.pipelineId, stageIndex: 0, seqId: request.seqId, epoch: request.epoch, pos: request.pos,
                    nTokens: request.tokens.length, tokens: Array.from(request.tokens), dtype: this.options.activations, sample: request.sample, step, stageMs: [],
                    ...(s != null ? { sampler: s } : {}), ...(request.accept != null ? { accept: Array.from(request.accept) } : {})
                }
            });
        });
    }

    release(seqId: number, epoch: number): Promise<void> {
        for (const w of [...this.waiters.values()]) if (w.seqId === seqId && w.epoch <= epoch) this.failSequence(w.seqId, w.epoch, new StepError(`sequence ${seqId} was released`, seqId));
        if (this.failedWith != null) return Promise.resolve();
        const key = `${seqId}/${epoch}`;
        return new Promise<void>((resolve) => {
            // A release that cannot travel (a link is down) is not waited for forever: a later epoch
            // supersedes it on every stage anyway.
            const timer = setTimeout(() => { this.releases.delete(key); resolve(); }, RELEASE_ACK_MS);
            timer.unref();
            this.releases.set(key, () => { clearTimeout(timer); resolve(); });
            this.forwardStream!.write({ release: { pipelineId: this.options.pipelineId, stageIndex: 0, seqId, epoch } });
        });
    }

    async nodeInfos() { return Promise.all(this.clients.map((c) => c.getInfo())); }

    private teardownStreams() {
        this.closing = true;
        try { this.forwardStream?.end(); } catch { /* gone */ }
        for (const s of this.attachStreams) s.cancel();
    }

    /** Ends the streams and frees the stages on every node. */
    private disposing: Promise<void> | null = null;

    dispose(): Promise<void> {
        this.disposing ??= this.disposeOnce();
        return this.disposing;
    }

    private async disposeOnce(): Promise<void> {
        this.teardownStreams();
        this.fail(new PipelineError("the pipeline was closed"));
        await Promise.all(this.clients.map((c) => c.closePipeline(this.options.pipelineId).catch(() => {})));
        for (const c of new Set(this.clients)) c.close();
        this.events.emit({ type: "closed" });
    }
}
