// The gRPC face of a node: who calls (its certificate's node id; the members-only interceptor has
// already refused non-members), message validity, and errors to status codes. Thin: every
// decision is made by the node, its cluster runtime and its hosted stages.
import * as grpc from "@grpc/grpc-js";
import { callerNodeId } from "../cluster/caller-node-id.ts";
import { MAX_PROBE_BYTES } from "../cluster/link-meter.ts";
import {
    InvalidMessage, guardedServiceDefinition,
    type AttachRequest__Output, type ForwardMessage__Output, type JoinMessage, type JoinMessage__Output, type MemberList__Output, type PrepareStageReply, type PrepareStageRequest__Output,
    type PipelineEvent, type UploadChunk__Output, type UploadReply,
    type ChatEvent, type ChatEvent__Output, type ChatRequest, type ChatRequest__Output, type HostEvent, type LoadModelRequest__Output
} from "../protocol/proto.ts";
import { memberEntriesFromWire, memberEntriesToWire, type NodeClient } from "../protocol/node-client.ts";
import type { ChatMessage } from "../model/chat.ts";
import { StageInputError } from "../stage/runtime.ts";
import { SamplerParamsError } from "../stage/sampler.ts";
import { GenerationRequestError } from "../engine/generate.ts";
import { NodeError } from "./errors.ts";
import type { HearthNode } from "./node.ts";

/** The Chat RPC's limits: messages of a chat, characters of one message or raw prompt, tokens asked for. */
export const MAX_CHAT_MESSAGES = 1000;
export const MAX_CHAT_TEXT = 1_000_000;
export const MAX_CHAT_TOKENS = 1_000_000;
/** Extra stop strings of a chat: at most this many (as OpenAI's API), each at most this long. */
export const MAX_STOP_STRINGS = 4;
export const MAX_STOP_LENGTH = 200;

/** Who made a call: a member's node id and name. */
export interface Caller { nodeId: string; name: string }

export class NodeService {
    constructor(private readonly node: HearthNode) {}

    private fail(e: unknown): grpc.StatusObject {
        const err = e as Error;
        const code = e instanceof NodeError ? e.code : e instanceof StageInputError ? grpc.status.INVALID_ARGUMENT : grpc.status.INTERNAL;
        return { code, details: `node '${this.node.name}': ${err?.message ?? String(e)}`, metadata: new grpc.Metadata() };
    }

    /** The member that made the call (the interceptor admitted only members; this is the belt to its braces). */
    private caller(call: Parameters<typeof callerNodeId>[0], method: string): Caller {
        const nodeId = callerNodeId(call);
        if (nodeId == null || !this.node.cluster.members.isMember(nodeId))
            throw new NodeError(grpc.status.UNAUTHENTICATED, `${method}: this node serves only members of its cluster`);
        return { nodeId, name: this.node.cluster.members.get(nodeId)?.name || nodeId.slice(0, 8) };
    }

    /** A unary handler: the caller, message validity, errors to status codes. */
    private unary<Req, Res>(method: string, fn: (req: Req, caller: Caller) => Promise<Res> | Res): grpc.handleUnaryCall<Req, Res> {
        return (call, callback) => {
            Promise.resolve()
                .then(() => {
                    const caller = this.caller(call, method);
                    if ((call.request as unknown) instanceof InvalidMessage) throw new NodeError(grpc.status.INVALID_ARGUMENT, (call.request as unknown as InvalidMessage).reason);
                    return fn(call.request, caller);
                })
                .then((res) => callback(null, res), (e: unknown) => callback(this.fail(e)));
        };
    }

    /** The Admission service: open to every machine. */
    admission(): [grpc.ServiceDefinition, grpc.UntypedServiceImplementation] {
        const runtime = () => this.node.clusterRuntime;
        return [guardedServiceDefinition("Admission"), {
            hello: (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
                try {
                    callback(null, runtime().hello());
                } catch (e) {
                    callback(this.fail(e));
                }
            },
            joinCluster: (call: grpc.ServerDuplexStream<JoinMessage__Output, JoinMessage>) => {
                try {
                    runtime().joinCluster(call);
                } catch (e) {
                    call.emit("error", this.fail(e));
                }
            }
        }];
    }

    definition(): [grpc.ServiceDefinition, grpc.UntypedServiceImplementation] {
        const node = this.node;
        const handlers: grpc.UntypedServiceImplementation = {
            getInfo: this.unary("GetInfo", () => node.info()),
            health: this.unary("Health", () => ({ serving: true, uptimeS: node.uptimeSeconds })),
            probe: this.unary<{ payload: Buffer }, unknown>("Probe", (req) => {
                if (req.payload.length > MAX_PROBE_BYTES) throw new NodeError(grpc.status.INVALID_ARGUMENT, `a probe carries at most ${MAX_PROBE_BYTES} bytes (got ${req.payload.length})`);
                return { receivedBytes: req.payload.length };
            }),
            syncMembers: this.unary<MemberList__Output, unknown>("SyncMembers", (req) => memberEntriesToWire(node.clusterRuntime.syncMembers(memberEntriesFromWire(req)))),
            removeMember: this.unary<{ nodeId: string }, unknown>("RemoveMember", (req, caller) => memberEntriesToWire(node.clusterRuntime.removeMember(caller.nodeId, req.nodeId))),
            createInvite: this.unary<unknown, unknown>("CreateInvite", async (_req, caller) => {
                const { invite, joinAddress, inviterName } = await node.clusterRuntime.createInvite(caller.nodeId);
                return { code: invite.code, expiresAtMs: invite.expiresAt, inviteId: invite.id, joinAddress, inviterName };
            }),
            getPeers: this.unary<{ addAddress: string }, unknown>("GetPeers", async (req) => {
                if (req.addAddress !== "") await node.clusterRuntime.addByAddress(req.addAddress);
                return { viewJson: JSON.stringify(node.clusterRuntime.view.state) };
            }),
            prepareStage: this.unary<PrepareStageRequest__Output, PrepareStageReply>("PrepareStage", (req, caller) => node.prepareStage(req, caller)),
            closePipeline: this.unary<{ pipelineId: string }, unknown>("ClosePipeline", async (req, caller) => {
                await node.closePipeline(req.pipelineId, caller.nodeId, "closed by its coordinator");
                return {};
            }),
            uploadStage: (call: grpc.ServerReadableStream<UploadChunk__Output, UploadReply>, callback: grpc.sendUnaryData<UploadReply>) => {
                try {
                    this.caller(call, "UploadStage");
                } catch (e) {
                    callback(this.fail(e));
                    return;
                }
                node.store.receive(call, callback, node.name);
            },
            attach: (call: grpc.ServerWritableStream<AttachRequest__Output, PipelineEvent>) => {
                try {
                    const caller = this.caller(call, "Attach");
                    if ((call.request as unknown) instanceof InvalidMessage) throw new NodeError(grpc.status.INVALID_ARGUMENT, (call.request as unknown as InvalidMessage).reason);
                    node.stage(call.request.pipelineId, call.request.stageIndex).hold(call, caller.nodeId);
                } catch (e) {
                    call.emit("error", this.fail(e));
                }
            },
            forward: (call: grpc.ServerReadableStream<ForwardMessage__Output, unknown>, callback: grpc.sendUnaryData<unknown>) => this.forward(call, callback),
            loadModel: (call: grpc.ServerWritableStream<LoadModelRequest__Output, HostEvent>) => this.loadModel(call),
            chat: (call: grpc.ServerWritableStream<ChatRequest__Output, ChatEvent>) => this.chat(call)
        };
        return [guardedServiceDefinition(), handlers];
    }

    /** Hosting the cluster's model: only the node itself may ask (its CLI). */
    private loadModel(call: grpc.ServerWritableStream<LoadModelRequest__Output, HostEvent>): void {
        const node = this.node;
        Promise.resolve().then(async () => {
            const caller = this.caller(call, "LoadModel");
            if (caller.nodeId !== node.nodeId) throw new NodeError(grpc.status.PERMISSION_DENIED, "only this machine itself (its own 'hearth load') can make it host a model");
            const req = call.request;
            if ((req as unknown) instanceof InvalidMessage) throw new NodeError(grpc.status.INVALID_ARGUMENT, (req as unknown as InvalidMessage).reason);
            if (req.modelPath === "") throw new NodeError(grpc.status.INVALID_ARGUMENT, "LoadModel needs the model file's path on this machine");
            const stage = { ...(req.contextSize > 0 ? { contextSize: req.contextSize } : {}), ...(req.maxSequences > 0 ? { maxSequences: req.maxSequences } : {}) };
            try {
                await node.host.loadModel({ modelPath: req.modelPath, layers: req.layers || "auto", stage, activations: req.activations === "F16" ? "f16" : "f32" },
                    (p) => call.write({ phase: p.phase, message: p.message, bytesDone: "bytesDone" in p ? p.bytesDone : 0, bytesTotal: "bytesTotal" in p ? p.bytesTotal : 0 }));
            } catch (e) {
                if (e instanceof NodeError) throw e;
                throw new NodeError(grpc.status.FAILED_PRECONDITION, (e as Error).message);
            }
            call.write({ phase: "ready", message: "", model: node.hostedModel() });
            call.end();
        }).catch((e: unknown) => call.emit("error", this.fail(e)));
    }

    /** A chat turn: run here when this node hosts the model, else passed on to the member that does. */
    private chat(call: grpc.ServerWritableStream<ChatRequest__Output, ChatEvent>): void {
        const node = this.node;
        const abort = new AbortController();
        call.on("cancelled", () => abort.abort(new DOMException("the chat was cancelled", "AbortError")));
        Promise.resolve().then(async () => {
            this.caller(call, "Chat");
            const req = call.request;
            if ((req as unknown) instanceof InvalidMessage) throw new NodeError(grpc.status.INVALID_ARGUMENT, (req as unknown as InvalidMessage).reason);
            const messages = req.messages.map((m) => ({ role: m.role, content: m.content }));
            const raw = req.prompt !== "";
            if (raw) {
                if (messages.length > 0) throw new NodeError(grpc.status.INVALID_ARGUMENT, "a chat has messages or a raw prompt, not both");
                if (req.prompt.length > MAX_CHAT_TEXT) throw new NodeError(grpc.status.INVALID_ARGUMENT, `a raw prompt is at most ${MAX_CHAT_TEXT.toLocaleString("en-US")} characters`);
            } else {
                if (messages.length === 0 || messages.length > MAX_CHAT_MESSAGES || messages.some((m) => !["system", "user", "assistant"].includes(m.role) || m.content.length > MAX_CHAT_TEXT))
                    throw new NodeError(grpc.status.INVALID_ARGUMENT, `a chat needs 1-${MAX_CHAT_MESSAGES} messages, each with the role system, user or assistant`);
                if (messages.at(-1)!.role !== "user") throw new NodeError(grpc.status.INVALID_ARGUMENT, "a chat turn needs the user's message last");
            }
            if (req.stop.length > MAX_STOP_STRINGS || req.stop.some((t) => t.length === 0 || t.length > MAX_STOP_LENGTH))
                throw new NodeError(grpc.status.INVALID_ARGUMENT, `a chat has at most ${MAX_STOP_STRINGS} stop strings, each of 1-${MAX_STOP_LENGTH} characters`);
            if (req.maxTokens > MAX_CHAT_TOKENS) throw new NodeError(grpc.status.INVALID_ARGUMENT, `max_tokens is at most ${MAX_CHAT_TOKENS.toLocaleString("en-US")}`);
            if (node.host.state == null) {
                const host = node.clusterRuntime.modelHost();
                if (host == null) throw new NodeError(grpc.status.FAILED_PRECONDITION, "no member hosts a model now: load one with 'hearth load --model FILE' on a member");
                await relayChat(host.client, req, call, abort.signal);
                return;
            }
            const s = req.sampler;
            const sampler = s == null ? {} : { temperature: s.temperature, topK: s.topK, topP: s.topP, minP: s.minP, repeatPenalty: s.repeatPenalty, repeatLastN: s.repeatLastN, frequencyPenalty: s.frequencyPenalty, presencePenalty: s.presencePenalty, ...(s.seed !== 0 ? { seed: s.seed } : {}) };
            let turn;
            try {
                turn = await node.host.chat({
                    messages: messages as ChatMessage[], ...(raw ? { prompt: req.prompt } : {}), stop: req.stop,
                    maxTokens: req.maxTokens || 256, sampler, signal: abort.signal,
                    onText: (text, tokens) => { if (!abort.signal.aborted) call.write({ delta: { text, tokens } }); }
                });
            } catch (e) {
                if (e instanceof NodeError) throw e;
                // What the request asks for cannot be (a prompt longer than the context, a sampler parameter out of range).
                if (e instanceof GenerationRequestError || e instanceof SamplerParamsError) throw new NodeError(grpc.status.INVALID_ARGUMENT, e.message);
                throw new NodeError(grpc.status.FAILED_PRECONDITION, (e as Error).message);
            }
            const r = turn.result;
            if (r.stopReason === "aborted") throw new NodeError(grpc.status.CANCELLED, "the chat was cancelled");
            if (r.stopReason === "failed") throw new NodeError(grpc.status.UNAVAILABLE, `the chat failed: ${r.error?.message ?? "the pipeline broke"}; try again (the model is being placed again)`);
            call.write({ result: {
                stopReason: r.stopReason, promptTokens: turn.promptTokens, tokens: r.tokens, text: r.text, timeToFirstTokenMs: r.stats.timeToFirstTokenMs,
                decodeTokensPerSecond: r.stats.decodeTokensPerSecond, hostName: node.name, planVersion: turn.planVersion
            } });
            call.end();
        }).catch((e: unknown) => { if (!call.cancelled) call.emit("error", this.fail(e)); });
    }

    /**
     * The activation stream into a stage. A malformed message ends the stream with its status (the
     * sender is broken); a step that is well formed but cannot run fails its sequence only.
     */
    private forward(call: grpc.ServerReadableStream<ForwardMessage__Output, unknown>, callback: grpc.sendUnaryData<unknown>) {
        let done = false;
        const finish = (e: unknown | null) => {
            if (done) return;
            done = true;
            if (e == null) callback(null, {}); else callback(this.fail(e));
        };
        try {
            this.caller(call, "Forward");
        } catch (e) {
            finish(e);
            return;
        }
        const key = call.metadata.get("x-hearth-pipeline-key")[0];
        call.on("data", (msg: ForwardMessage__Output | InvalidMessage) => {
            if (done) return;
            try {
                if (msg instanceof InvalidMessage) throw new NodeError(grpc.status.INVALID_ARGUMENT, msg.reason);
                const body = msg.activation ?? msg.release;
                if (body == null) throw new NodeError(grpc.status.INVALID_ARGUMENT, "a forward message needs an activation or a release");
                const stage = this.node.stage(body.pipelineId, body.stageIndex);
                if (key !== stage.options.pipelineKey) throw new NodeError(grpc.status.PERMISSION_DENIED, "this stream does not carry the pipeline's key");
                if (msg.activation != null) stage.acceptActivation(msg.activation);
                else stage.acceptRelease(msg.release!);
            } catch (e) {
                finish(e);
            }
        });
        call.on("end", () => finish(null));
        call.on("error", () => { done = true; });
        call.on("cancelled", () => { done = true; });
    }
}

/** Passes a chat to the host and its events back; a cancel on either side reaches the other. */
function relayChat(host: NodeClient, req: ChatRequest__Output, call: grpc.ServerWritableStream<ChatRequest__Output, ChatEvent>, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
        const upstream = host.raw.chat(req as ChatRequest, new grpc.Metadata());
        const cancel = () => upstream.cancel();
        signal.addEventListener("abort", cancel, { once: true });
        // A failed call ends too ('end' on the next tick, before the rejection's handler runs): it must not end this one as if it succeeded.
        let failed = false;
        upstream.on("data", (e: ChatEvent__Output) => call.write(e as ChatEvent));
        upstream.on("error", (e: grpc.ServiceError) => { failed = true; signal.removeEventListener("abort", cancel); reject(new NodeError(e.code ?? grpc.status.UNAVAILABLE, `the model's host: ${e.details || e.message}`)); });
        upstream.on("end", () => { if (failed) return; signal.removeEventListener("abort", cancel); call.end(); resolve(); });
    });
}
