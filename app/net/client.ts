// A typed client of one node: joins with the cluster key, then carries the session on every call.
import * as grpc from "@grpc/grpc-js";
import { bearer } from "./auth.ts";
import {
    NodeClientConstructor, type ActivationMsg, type NodeInfoMsg, type PrepareReplyMsg, type PrepareStageMsg,
    type StageErrorMsg, type TokenEventMsg, type UploadChunkMsg
} from "./proto.ts";

export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

type Callback<T> = (e: grpc.ServiceError | null, r: T) => void;
interface RawClient extends grpc.Client {
    join(req: object, options: grpc.CallOptions, cb: Callback<{ sessionToken: string; node: NodeInfoMsg }>): void;
    getInfo(req: object, md: grpc.Metadata, options: grpc.CallOptions, cb: Callback<NodeInfoMsg>): void;
    health(req: object, md: grpc.Metadata, options: grpc.CallOptions, cb: Callback<{ serving: boolean }>): void;
    prepareStage(req: PrepareStageMsg, md: grpc.Metadata, options: grpc.CallOptions, cb: Callback<PrepareReplyMsg>): void;
    releaseSequence(req: object, md: grpc.Metadata, options: grpc.CallOptions, cb: Callback<{ released: boolean }>): void;
    closePipeline(req: object, md: grpc.Metadata, options: grpc.CallOptions, cb: Callback<object>): void;
    uploadStage(md: grpc.Metadata, cb: Callback<{ bytesReceived: number; complete: boolean }>): grpc.ClientWritableStream<UploadChunkMsg>;
    forward(md: grpc.Metadata): grpc.ClientDuplexStream<ActivationMsg, { error?: StageErrorMsg }>;
    subscribe(req: object, md: grpc.Metadata): grpc.ClientReadableStream<TokenEventMsg>;
}

export class NodeClient {
    readonly raw: RawClient;
    private token = "";
    node: NodeInfoMsg | null = null;

    constructor(readonly address: string) {
        this.raw = new NodeClientConstructor(address, grpc.credentials.createInsecure(), {
            "grpc.max_receive_message_length": MAX_MESSAGE_BYTES, "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
            "grpc.keepalive_time_ms": 10000, "grpc.keepalive_timeout_ms": 5000, "grpc.initial_reconnect_backoff_ms": 200
        }) as unknown as RawClient;
    }

    get name(): string { return this.node?.name ?? this.address; }

    /** Call metadata carrying this client's session. */
    metadata(): grpc.Metadata { return bearer(this.token); }

    private unary<T>(fn: (md: grpc.Metadata, o: grpc.CallOptions, cb: Callback<T>) => void, timeoutMs: number): Promise<T> {
        return new Promise((resolve, reject) => fn(bearer(this.token), { deadline: Date.now() + timeoutMs }, (e, r) => (e ? reject(e) : resolve(r))));
    }

    async join(clusterKey: Buffer, peerName: string, timeoutMs = 10000): Promise<NodeInfoMsg> {
        const r = await new Promise<{ sessionToken: string; node: NodeInfoMsg }>((resolve, reject) =>
            this.raw.join({ clusterKey, peerName }, { deadline: Date.now() + timeoutMs }, (e, res) => (e ? reject(e) : resolve(res))));
        this.token = r.sessionToken;
        this.node = r.node;
        return r.node;
    }

    getInfo(timeoutMs = 10000) { return this.unary<NodeInfoMsg>((md, o, cb) => this.raw.getInfo({}, md, o, cb), timeoutMs); }
    health(timeoutMs = 5000) { return this.unary<{ serving: boolean }>((md, o, cb) => this.raw.health({}, md, o, cb), timeoutMs); }
    prepareStage(req: PrepareStageMsg, timeoutMs = 600000) { return this.unary<PrepareReplyMsg>((md, o, cb) => this.raw.prepareStage(req, md, o, cb), timeoutMs); }
    releaseSequence(pipelineId: string, seqId: number, timeoutMs = 10000) { return this.unary((md, o, cb) => this.raw.releaseSequence({ pipelineId, seqId }, md, o, cb), timeoutMs); }
    closePipeline(pipelineId: string, timeoutMs = 10000) { return this.unary((md, o, cb) => this.raw.closePipeline({ pipelineId }, md, o, cb), timeoutMs); }

    upload(): { stream: grpc.ClientWritableStream<UploadChunkMsg>; done: Promise<{ bytesReceived: number; complete: boolean }> } {
        let stream!: grpc.ClientWritableStream<UploadChunkMsg>;
        const done = new Promise<{ bytesReceived: number; complete: boolean }>((resolve, reject) => {
            stream = this.raw.uploadStage(bearer(this.token), (e, r) => (e ? reject(e) : resolve(r)));
        });
        return { stream, done };
    }

    forward() { return this.raw.forward(bearer(this.token)); }
    subscribe(pipelineId: string) { return this.raw.subscribe({ pipelineId }, bearer(this.token)); }
    close() { this.raw.close(); }
}
