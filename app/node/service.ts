// The gRPC face of a node: who calls (its certificate's node id; the members-only interceptor has
// already refused non-members), message validity, and errors to status codes. Thin: every
// decision is made by the node, its cluster runtime and its hosted stages.
import * as grpc from "@grpc/grpc-js";
import { callerNodeId } from "../cluster/caller-node-id.ts";
import {
    InvalidMessage, guardedServiceDefinition,
    type AttachRequest__Output, type ForwardMessage__Output, type JoinMessage, type JoinMessage__Output, type MemberList__Output, type PrepareStageReply, type PrepareStageRequest__Output,
    type PipelineEvent, type UploadChunk__Output, type UploadReply
} from "../protocol/proto.ts";
import { memberEntriesFromWire, memberEntriesToWire } from "../protocol/node-client.ts";
import { StageInputError } from "../stage/runtime.ts";
import { NodeError } from "./errors.ts";
import type { HearthNode } from "./node.ts";

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
            forward: (call: grpc.ServerReadableStream<ForwardMessage__Output, unknown>, callback: grpc.sendUnaryData<unknown>) => this.forward(call, callback)
        };
        return [guardedServiceDefinition(), handlers];
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
