// The gRPC face of a node: authentication, message validity, and errors to status codes. Thin:
// every decision is made by the node and its hosted stages.
import * as grpc from "@grpc/grpc-js";
import {
    InvalidMessage, PROTOCOL_VERSION, guardedServiceDefinition,
    type AttachRequest__Output, type ForwardMessage__Output, type PrepareStageReply, type PrepareStageRequest__Output, type JoinRequest__Output, type PipelineEvent, type UploadChunk__Output, type UploadReply
} from "../protocol/proto.ts";
import { StageInputError } from "../stage/runtime.ts";
import { NodeError } from "./errors.ts";
import type { HearthNode } from "./node.ts";

type Session = { token: string; peer: string };

export class NodeService {
    constructor(private readonly node: HearthNode) {}

    private fail(e: unknown): grpc.StatusObject {
        const err = e as Error;
        const code = e instanceof NodeError ? e.code : e instanceof StageInputError ? grpc.status.INVALID_ARGUMENT : grpc.status.INTERNAL;
        return { code, details: `node '${this.node.name}': ${err?.message ?? String(e)}`, metadata: new grpc.Metadata() };
    }

    private session(metadata: grpc.Metadata, method: string): Session {
        const s = this.node.sessions.check(metadata);
        if (s == null) throw new NodeError(grpc.status.UNAUTHENTICATED, `${method}: join the cluster first (Join with the cluster key)`);
        return s;
    }

    /** A unary handler: authentication (unless open), message validity, errors to status codes. */
    private unary<Req, Res>(method: string, fn: (req: Req, session: Session | null) => Promise<Res> | Res, open = false): grpc.handleUnaryCall<Req, Res> {
        return (call, callback) => {
            Promise.resolve()
                .then(() => {
                    const session = open ? null : this.session(call.metadata, method);
                    if ((call.request as unknown) instanceof InvalidMessage) throw new NodeError(grpc.status.INVALID_ARGUMENT, (call.request as unknown as InvalidMessage).reason);
                    return fn(call.request, session);
                })
                .then((res) => callback(null, res), (e: unknown) => callback(this.fail(e)));
        };
    }

    definition(): [grpc.ServiceDefinition, grpc.UntypedServiceImplementation] {
        const node = this.node;
        const handlers: grpc.UntypedServiceImplementation = {
            join: this.unary<JoinRequest__Output, unknown>("Join", async (req) => {
                if (req.protocol !== PROTOCOL_VERSION)
                    throw new NodeError(grpc.status.FAILED_PRECONDITION, `this node speaks protocol ${PROTOCOL_VERSION}, the joining machine ${req.protocol}: update Hearth so that all machines run the same version`);
                const token = node.sessions.join(req.clusterKey, req.peerName);
                if (token == null) throw new NodeError(grpc.status.PERMISSION_DENIED, "wrong cluster key: copy the key from a machine of this cluster");
                node.events.emit({ type: "peerJoined", peer: req.peerName || "a peer" });
                return { sessionToken: token, node: await node.info() };
            }, true),
            getInfo: this.unary("GetInfo", () => node.info()),
            health: this.unary("Health", () => ({ serving: true, uptimeS: node.uptimeSeconds })),
            prepareStage: this.unary<PrepareStageRequest__Output, PrepareStageReply>("PrepareStage", (req, session) => node.prepareStage(req, session!)),
            closePipeline: this.unary<{ pipelineId: string }, unknown>("ClosePipeline", async (req, session) => {
                await node.closePipeline(req.pipelineId, session!.token, "closed by its coordinator");
                return {};
            }),
            uploadStage: (call: grpc.ServerReadableStream<UploadChunk__Output, UploadReply>, callback: grpc.sendUnaryData<UploadReply>) => {
                try {
                    this.session(call.metadata, "UploadStage");
                } catch (e) {
                    callback(this.fail(e));
                    return;
                }
                node.store.receive(call, callback, node.name);
            },
            attach: (call: grpc.ServerWritableStream<AttachRequest__Output, PipelineEvent>) => {
                try {
                    const session = this.session(call.metadata, "Attach");
                    if ((call.request as unknown) instanceof InvalidMessage) throw new NodeError(grpc.status.INVALID_ARGUMENT, (call.request as unknown as InvalidMessage).reason);
                    node.stage(call.request.pipelineId, call.request.stageIndex).hold(call, session.token);
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
            this.session(call.metadata, "Forward");
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
