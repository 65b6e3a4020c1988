// The cluster's model, hosted by one member: it plans the model over the members it can reach,
// ships their stages, keeps the pipeline ready, and runs every member's chats through it. When
// the members it can reach change (one joins, one is lost, or the pipeline breaks), it plans
// again: an idle pipeline is replaced at once, a busy one when its chats have ended (a broken one
// at once: its chats have failed anyway).
import path from "node:path";
import { connectPipeline } from "../coordinator/connect.ts";
import type { RemotePipeline } from "../coordinator/remote-pipeline.ts";
import { GenerationRequestError, generate, type GenerationResult } from "../engine/generate.ts";
import { PipelineError } from "../engine/pipeline.ts";
import { chatPrompt, type ChatMessage } from "../model/chat.ts";
import { fileSha256 } from "../model/stage-cache.ts";
import { Tokenizer } from "../model/tokenizer.ts";
import { readGgufHeader } from "../gguf/reader.ts";
import { modelLayerCount, parseLayerRanges, type LayerRange } from "../stage/slice.ts";
import type { SamplerParams } from "../stage/sampler.ts";
import type { StageOptions } from "../stage/options.ts";
import type { NodeCluster } from "../cluster/node-cluster.ts";
import { EventHub } from "../util/event-hub.ts";
import { modelShapeFromHeader } from "../placement/model-shape.ts";
import type { Plan } from "../placement/planner.ts";
import { planOverMembers, type LiveMember } from "./live-plan.ts";

/** A member the host may place stages on. */
export interface HostCandidate { nodeId: string; name: string; address: string }

export interface ModelHostOptions {
    /** this node's cluster (the host connects to the members as itself) */
    cluster: Pick<NodeCluster, "identity" | "membership">;
    /** this node's id and name */
    nodeId: string;
    name: string;
    /** where stage files are cut and cached */
    dataDir: string;
    /** the members that can take stages, as last heard (this node first when it can) */
    candidates: () => HostCandidate[];
    /** asks the members again, then gives `candidates()` with what each one said (memory, inventory): called at every plan */
    refreshCandidates: () => Promise<LiveMember[]>;
    /** how long to wait after a change of members before planning again. Defaults to 1000 ms */
    replanDelayMs?: number;
    log: (line: string) => void;
}

export interface LoadOptions {
    modelPath: string;
    /** "auto" (by the members' free memory) or one range per member, in member order. Defaults to "auto" */
    layers?: string;
    stage?: Partial<StageOptions>;
    activations?: "f32" | "f16";
}

export type HostState = "loading" | "ready" | "replanning" | "failed";

export interface PlannedStage {
    nodeId: string;
    name: string;
    layers: [number, number];
    /** the stage's n_gpu_layers */
    gpuLayers: number;
    memoryBytes: number;
    /** the planner's prediction; null when the layers were given by hand */
    predictedMsPerToken: number | null;
}

/** A plan the host would adopt, waiting for the chats in progress to end. */
export interface ProposedPlan {
    reason: string;
    stages: PlannedStage[];
    predictedTokensPerSecond: number | null;
}

export interface HostedModelState {
    name: string;
    modelSha256: string;
    state: HostState;
    stages: PlannedStage[];
    /** why it failed, or what it waits for ("" when nothing) */
    message: string;
    /** 1 for the first plan, +1 for each plan adopted after it */
    planVersion: number;
    /** the plan's prediction for one chat; null when the layers were given by hand */
    predictedTokensPerSecond: number | null;
    /** a new plan waiting for the chats in progress to end; null when none */
    proposed: ProposedPlan | null;
}

export type HostProgress =
    | { phase: "planning" | "replanning"; message: string }
    | { phase: "hashing" | "slicing" | "uploading"; message: string; bytesDone: number; bytesTotal: number };

export type HostEvent = { type: "changed"; model: HostedModelState | null };

export interface ChatTurnRequest {
    /** the conversation, through the model's chat template (ignored when `prompt` is given) */
    messages: ChatMessage[];
    /** raw text to continue instead, without the chat template (tokenized with the model's BOS rule) */
    prompt?: string;
    /** more text that ends the generation, besides the chat template's (not included in the text) */
    stop?: readonly string[];
    maxTokens?: number;
    sampler?: SamplerParams;
    signal?: AbortSignal;
    onText?: (text: string, tokens: number[]) => void;
}

export interface ChatTurnResult { promptTokens: number[]; result: GenerationResult; planVersion: number }

export class ModelHostError extends Error {
    constructor(message: string) { super(message); this.name = "ModelHostError"; }
}

/** The prompt tokens and what ends the turn: the raw prompt as it is, or the messages through the chat template; the extra stop strings either way. */
function turnPrompt(tokenizer: Tokenizer, request: ChatTurnRequest): { tokens: number[]; stopStrings: string[]; stopTokens: number[] } {
    const extra = (request.stop ?? []).filter((s) => s !== "");
    if (request.prompt != null) return { tokens: tokenizer.encode(request.prompt), stopStrings: [...extra], stopTokens: [] };
    if (request.messages.length === 0 || request.messages.at(-1)!.role !== "user") throw new GenerationRequestError("a chat turn needs the user's message last");
    const chat = chatPrompt(tokenizer, request.messages);
    return { tokens: chat.tokens, stopStrings: [...chat.stopStrings, ...extra], stopTokens: chat.stopTokens };
}

export class ModelHost {
    readonly events = new EventHub<HostedModelState | null, HostEvent>(null, (_, e) => e.model);
    private pipeline: RemotePipeline | null = null;
    private tokenizer: Tokenizer | null = null;
    private load: (LoadOptions & { modelSha256: string; layerTotal: number }) | null = null;
    private active = 0;
    private planning: Promise<void> | null = null;
    private replanTimer: NodeJS.Timeout | null = null;
    private replanWanted = false;
    private disposed = false;
    /** counts the pipelines opened: a late event of an older one is no news */
    private pipelineEpoch = 0;
    private proposing = false;
    /** members the plan in force considered and left out (not needed): no reason to plan again when they answer */
    private idle = new Set<string>();

    constructor(private readonly options: ModelHostOptions) {}

    get state(): HostedModelState | null { return this.events.state; }

    /** Hosts the model: plans, ships the stages, opens the pipeline. Replaces a model already hosted. */
    async loadModel(options: LoadOptions, onProgress: (p: HostProgress) => void = () => {}): Promise<HostedModelState> {
        if (this.disposed) throw new ModelHostError("the node is shutting down");
        const modelPath = path.resolve(options.modelPath);
        const header = readGgufHeader(modelPath);
        const layerTotal = modelLayerCount(header, modelPath);
        const modelSha256 = await fileSha256(modelPath, this.options.dataDir, (h) => onProgress({ phase: "hashing", message: "hashing the model", bytesDone: h.bytesDone, bytesTotal: h.bytesTotal }));
        await this.closePipeline();
        this.tokenizer?.dispose().catch(() => {});
        this.tokenizer = await Tokenizer.load(modelPath);
        this.load = { ...options, modelPath, modelSha256, layerTotal };
        this.set({ name: path.basename(modelPath), modelSha256, state: "loading", stages: [], message: "", planVersion: 0, predictedTokensPerSecond: null, proposed: null });
        await this.plan(onProgress);
        return this.state!;
    }

    /** One chat turn through the hosted model. */
    async chat(request: ChatTurnRequest): Promise<ChatTurnResult> {
        const ready = await this.readyPipeline();
        const tokenizer = this.tokenizer!;
        const prompt = turnPrompt(tokenizer, request);
        this.active++;
        const planVersion = this.state!.planVersion;
        try {
            const generation = generate(ready, {
                promptTokens: prompt.tokens, maxTokens: request.maxTokens ?? 256, sampler: request.sampler ?? {},
                stopStrings: prompt.stopStrings, stopTokens: prompt.stopTokens, ...(request.signal != null ? { signal: request.signal } : {})
            }, { detokenizer: tokenizer, isEndOfGeneration: (t) => tokenizer.isEndOfGeneration(t) });
            for await (const e of generation) {
                if (e.type === "token") request.onText?.(e.text, [e.token]);
                else if (e.type === "text") request.onText?.(e.text, []);
            }
            const result = await generation.result;
            if (ready.failure != null) this.pipelineBroke(ready.failure);
            return { promptTokens: prompt.tokens, result, planVersion };
        } finally {
            this.active--;
            if (this.active === 0 && this.replanWanted) this.scheduleReplan(0);
        }
    }

    /** The members that can take stages changed (or may have): plans again if the plan's members are not the live ones. */
    candidatesChanged(): void {
        if (this.load == null || this.disposed || this.planning != null) return;
        if (!this.planDiffers(this.options.candidates())) return;
        this.scheduleReplan(this.options.replanDelayMs ?? 1000);
    }

    /** Whether the plan in force (or its absence) does not match `candidates`: a member of it is gone, or one more could take part. */
    private planDiffers(candidates: readonly HostCandidate[]): boolean { return this.replanReason(candidates) != null; }

    /** Why the plan in force should change for `candidates`, or null. */
    private replanReason(candidates: readonly HostCandidate[]): string | null {
        const state = this.state;
        if (state == null || state.state !== "ready") return `the model is ${state?.state ?? "not placed"}`;
        if (this.pipeline?.failure != null) return `its pipeline broke (${this.pipeline.failure.message})`;
        const live = new Map(candidates.map((c) => [c.nodeId, c.name]));
        const gone = state.stages.filter((s) => !live.has(s.nodeId));
        if (gone.length > 0) return `${gone.map((s) => s.name).join(", ")} no longer answer`;
        const explicit = this.load?.layers != null && this.load.layers !== "auto";
        const planned = new Set(state.stages.map((s) => s.nodeId));
        const added = [...live].filter(([id]) => !planned.has(id) && !this.idle.has(id));
        return !explicit && added.length > 0 ? `${added.map(([, name]) => name).join(", ")} could take part` : null;
    }

    async dispose(): Promise<void> {
        if (this.disposed) return;
        this.disposed = true;
        if (this.replanTimer != null) clearTimeout(this.replanTimer);
        await this.planning?.catch(() => {});
        await this.closePipeline();
        await this.tokenizer?.dispose().catch(() => {});
        this.tokenizer = null;
        this.set(null);
    }

    // ---- planning -------------------------------------------------------------------------

    private scheduleReplan(delayMs: number): void {
        if (this.disposed || this.load == null) return;
        if (this.active > 0 && this.pipeline != null && this.pipeline.failure == null) {
            this.replanWanted = true;
            void this.propose();
            return;
        }
        if (this.replanTimer != null) clearTimeout(this.replanTimer);
        this.replanTimer = setTimeout(() => {
            this.replanTimer = null;
            this.replanWanted = false;
            // Ask the members again: a change that did not last (or a member heard again) is no reason to move stages.
            void this.options.refreshCandidates().then((candidates) => {
                // A plan in the making takes the members as they are when it asks them.
                const reason = this.disposed || this.planning != null ? null : this.replanReason(candidates);
                if (reason == null) return;
                this.options.log(`planning the model again: ${reason}`);
                if (this.state != null) this.set({ ...this.state, state: "replanning", message: "" });
                return this.plan(() => {});
            }).catch((e: unknown) => this.options.log(`re-planning the model failed: ${(e as Error).message}`));
        }, delayMs);
        this.replanTimer.unref();
    }

    /** Works out the plan the host would adopt now and shows it as proposed (it waits for the chats in progress). */
    private async propose(): Promise<void> {
        const load = this.load;
        if (load == null || this.proposing) return;
        this.proposing = true;
        try {
            const candidates = await this.options.refreshCandidates();
            const reason = this.replanReason(candidates);
            if (reason == null || this.state == null || this.active === 0 || this.load !== load) return;
            let proposed: ProposedPlan;
            if (load.layers != null && load.layers !== "auto") {
                const layers = parseLayerRanges(load.layers, load.layerTotal);
                proposed = { reason, predictedTokensPerSecond: null, stages: candidates.slice(0, layers.length).map((c, i) => ({
                    nodeId: c.nodeId, name: c.name, layers: [layers[i]!.start, layers[i]!.end], gpuLayers: 0, memoryBytes: 0, predictedMsPerToken: null
                })) };
            } else {
                try {
                    const { plan, order } = planOverMembers(this.shapeOf(load), candidates, this.planOptions(load));
                    proposed = { reason, predictedTokensPerSecond: plan.predictedTokensPerSecond, stages: plannedStages(plan, order) };
                } catch (e) {
                    proposed = { reason: `${reason}; no plan fits the members that answer: ${(e as Error).message}`, predictedTokensPerSecond: null, stages: [] };
                }
            }
            if (this.active > 0 && this.replanWanted) this.set({ ...this.state, proposed, message: "a new plan is waiting for the chats in progress to end" });
        } catch (e) {
            this.options.log(`working out a new plan failed: ${(e as Error).message}`);
        } finally {
            this.proposing = false;
        }
    }

    private shapeOf(load: NonNullable<ModelHost["load"]>) {
        return modelShapeFromHeader(readGgufHeader(load.modelPath), path.basename(load.modelPath));
    }

    private planOptions(load: NonNullable<ModelHost["load"]>) {
        const stage = { contextSize: 4096, maxSequences: 4, batchSize: 512, ...load.stage };
        return { contextSize: stage.contextSize, maxSequences: stage.maxSequences, batchSize: stage.batchSize, activationBytesPerValue: load.activations === "f16" ? 2 : 4 };
    }

    private pipelineBroke(error: PipelineError): void {
        if (this.state?.state === "ready") {
            this.options.log(`the model's pipeline broke (${error.message}); planning again over the members that answer`);
            this.set({ ...this.state, state: "replanning", message: error.message });
            this.scheduleReplan(this.options.replanDelayMs ?? 1000);
        }
    }

    private plan(onProgress: (p: HostProgress) => void): Promise<void> {
        const run = (this.planning ?? Promise.resolve()).then(() => this.planNow(onProgress));
        // What others wait on never rejects (the caller of plan() gets the error).
        const settled: Promise<void> = run.catch(() => {}).finally(() => { if (this.planning === settled) this.planning = null; });
        this.planning = settled;
        return run;
    }

    private async planNow(onProgress: (p: HostProgress) => void): Promise<void> {
        const load = this.load;
        if (load == null || this.disposed) return;
        // The old pipeline first: its stages hold memory the new plan may need.
        await this.closePipeline();
        const candidates = await this.options.refreshCandidates();
        if (candidates.length === 0) {
            this.set({ ...this.state!, state: "failed", stages: [], message: "no member can take the model's layers now: start a node on a member", proposed: null });
            throw new ModelHostError(this.state!.message);
        }
        const explicit = load.layers != null && load.layers !== "auto";
        let peers: HostCandidate[];
        let layers: LayerRange[];
        let stageGpuLayers: number[] | undefined;
        let predicted = "";
        let planned: { plan: Plan; order: LiveMember[] } | null = null;
        if (explicit) {
            layers = parseLayerRanges(load.layers!, load.layerTotal);
            if (layers.length > candidates.length)
                throw new ModelHostError(`${layers.length} layer ranges, but only ${candidates.length} member(s) answer: ${candidates.map((c) => c.name).join(", ")}`);
            peers = candidates.slice(0, layers.length);
        } else {
            try {
                planned = planOverMembers(this.shapeOf(load), candidates, this.planOptions(load));
            } catch (e) {
                this.set({ ...this.state!, state: "failed", stages: [], message: (e as Error).message, proposed: null });
                throw e;
            }
            peers = planned.order;
            this.idle = new Set(candidates.filter((c) => !planned!.order.some((p) => p.nodeId === c.nodeId)).map((c) => c.nodeId));
            layers = planned.plan.stages.map((s) => ({ start: s.layers[0], end: s.layers[1] }));
            stageGpuLayers = planned.plan.stages.map((s) => s.gpuLayersOption);
            predicted = `, predicted ${planned.plan.predictedTokensPerSecond.toFixed(1)} tokens/s`;
        }
        onProgress({ phase: this.state!.planVersion === 0 ? "planning" : "replanning", message: `placing ${load.layerTotal} layers over ${peers.map((p) => p.name).join(", ")}${predicted}` });
        let pipeline: RemotePipeline;
        const epoch = ++this.pipelineEpoch;
        try {
            pipeline = await connectPipeline({
                modelPath: load.modelPath, peers: peers.map((p) => p.address), layers, cluster: this.options.cluster, dataDir: this.options.dataDir,
                ...(stageGpuLayers != null ? { stageGpuLayers } : {}),
                name: this.options.name, stage: { maxSequences: 4, ...load.stage }, activations: load.activations ?? "f32",
                onEvent: (e) => {
                    if (e.type === "uploading") onProgress({ phase: "uploading", message: `sending layers ${e.layers[0]}-${e.layers[1]} to ${e.node}`, bytesDone: e.bytesDone, bytesTotal: e.bytesTotal });
                    else if (e.type === "slicing") onProgress({ phase: "slicing", message: `cutting layers ${e.layers[0]}-${e.layers[1]}`, bytesDone: e.bytesDone, bytesTotal: e.bytesTotal });
                    else if (e.type === "failed" && epoch === this.pipelineEpoch && this.pipeline != null) this.pipelineBroke(new PipelineError(e.message, e.node));
                }
            });
        } catch (e) {
            this.set({ ...this.state!, state: "failed", stages: [], message: (e as Error).message, proposed: null });
            throw e;
        }
        if (this.disposed) { await pipeline.dispose(); return; }
        this.pipeline = pipeline;
        const stages: PlannedStage[] = pipeline.stages.map((s, i) => ({
            nodeId: s.client.serverNodeId ?? "", name: s.client.name, layers: [s.range.start, s.range.end], memoryBytes: s.memoryBytes,
            gpuLayers: stageGpuLayers?.[i] ?? 0, predictedMsPerToken: planned?.plan.stages[i]?.predictedMsPerToken ?? null
        }));
        this.set({
            ...this.state!, state: "ready", stages, message: "", planVersion: this.state!.planVersion + 1,
            predictedTokensPerSecond: planned?.plan.predictedTokensPerSecond ?? null, proposed: null
        });
        this.options.log(`the model ${this.state!.name} is ready (plan ${this.state!.planVersion}): ${stages.map((s) => `${s.name} ${s.layers[0]}-${s.layers[1]}`).join(", ")}`);
        // Members may have changed while this plan was made.
        if (this.planDiffers(this.options.candidates())) this.scheduleReplan(this.options.replanDelayMs ?? 1000);
    }

    private async readyPipeline(): Promise<RemotePipeline> {
        if (this.load == null) throw new ModelHostError("no model is loaded in this cluster: load one with 'hearth load --model FILE' on a member");
        // A plan in the making (a new member, a lost one) is waited for.
        for (let i = 0; i < 3 && (this.planning != null || this.replanTimer != null || this.pipeline?.failure != null); i++) {
            if (this.pipeline?.failure != null && this.planning == null && this.replanTimer == null) this.pipelineBroke(this.pipeline.failure);
            if (this.replanTimer != null) { clearTimeout(this.replanTimer); this.replanTimer = null; this.replanWanted = false; await this.plan(() => {}).catch(() => {}); }
            await this.planning?.catch(() => {});
        }
        if (this.pipeline == null || this.pipeline.failure != null || this.state?.state !== "ready")
            throw new ModelHostError(`the cluster's model is not ready: ${this.state?.message || this.state?.state || "not loaded"}`);
        return this.pipeline;
    }

    private async closePipeline(): Promise<void> {
        const p = this.pipeline;
        this.pipeline = null;
        await p?.dispose().catch(() => {});
    }

    private set(model: HostedModelState | null): void {
        this.events.emit({ type: "changed", model });
    }
}

/** The planner's stages as the host shows them (members by name). */
function plannedStages(plan: Plan, order: readonly LiveMember[]): PlannedStage[] {
    return plan.stages.map((s, i) => ({
        nodeId: order[i]!.nodeId, name: order[i]!.name, layers: [s.layers[0], s.layers[1]], gpuLayers: s.gpuLayersOption,
        memoryBytes: s.memoryBytes, predictedMsPerToken: s.predictedMsPerToken
    }));
}
