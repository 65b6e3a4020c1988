// A typed client of one node: joins with the cluster key (both sides check the protocol version),
// then carries the session on every call. Used by coordinators and by nodes (to their successor).
import fs from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { bearer } from "../node/auth.ts";
import {
    MAX_MESSAGE_BYTES, PROTOCOL_VERSION, nodeContract,
    type ForwardMessage, type NodeInfo__Output, type PipelineEvent__Output, type PrepareStageReply__Output, type PrepareStageRequest,
    type RawNodeClient, type UploadChunk, type UploadReply__Output
} from "./proto.ts";
import { raceSignal } from "../util/abort.ts";

export interface UploadHeader { modelSha256: string; layers: { start: number; end: number }; stageSha256: string; stageBytes: number }

export class ProtocolMismatchError extends Error {
    constructor(message: string) { super(message); this.name = "ProtocolMismatchError"; }
}

/** The message of a gRPC error without grpc-js's "13 INTERNAL: " prefix. */
export function grpcMessage(e: unknown): string {
    const err = e as grpc.ServiceError;
    return typeof err?.details === "string" && err.details !== "" ? err.details : String((e as Error)?.message ?? e);
}

export class NodeClient {
    readonly raw: RawNodeClient;
    private token = "";
    node: NodeInfo__Output | null = null;

    constructor(readonly address: string) {
        const Node = nodeContract().hearth.v1.Node;
        this.raw = new Node(address, grpc.credentials.createInsecure(), {
            "grpc.max_receive_message_length": MAX_MESSAGE_BYTES, "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
            "grpc.keepalive_time_ms": 10000, "grpc.keepalive_timeout_ms": 5000, "grpc.keepalive_permit_without_calls": 1,
            "grpc.initial_reconnect_backoff_ms": 200, "grpc.max_reconnect_backoff_ms": 2000
        });
    }

    get name(): string { return this.node?.name ?? this.address; }

    metadata(): grpc.Metadata { return bearer(this.token); }

    private unary<T>(fn: (md: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: T) => void) => void, timeoutMs: number): Promise<T> {
        return new Promise((resolve, reject) => fn(bearer(this.token), { deadline: Date.now() + timeoutMs }, (e, r) => (e ? reject(e) : resolve(r!))));
    }

    /** Joins the node; refuses a node that speaks another protocol version. */
    async join(clusterKey: Buffer, peerName: string, timeoutMs = 10000): Promise<NodeInfo__Output> {
        const r = await new Promise<{ sessionToken: string; node: NodeInfo__Output | null }>((resolve, reject) =>
            this.raw.join({ clusterKey, peerName, protocol: PROTOCOL_VERSION }, { deadline: Date.now() + timeoutMs }, (e, res) => (e ? reject(e) : resolve(res!))));
        if (r.node == null) throw new Error(`node at ${this.address} sent no description of itself`);
        if (r.node.protocol !== PROTOCOL_VERSION)
            throw new ProtocolMismatchError(`node '${r.node.name}' (${this.address}) runs Hearth ${r.node.version} with protocol ${r.node.protocol}; ` +
                `this machine speaks protocol ${PROTOCOL_VERSION} — update Hearth so that all machines run the same version`);
        this.token = r.sessionToken;
        this.node = r.node;
        return r.node;
    }

    getInfo(timeoutMs = 10000) { return this.unary<NodeInfo__Output>((md, o, cb) => this.raw.getInfo({}, md, o, cb), timeoutMs); }
    health(timeoutMs = 5000) { return this.unary<{ serving: boolean }>((md, o, cb) => this.raw.health({}, md, o, cb), timeoutMs); }
    prepareStage(req: PrepareStageRequest, timeoutMs = 600000) { return this.unary<PrepareStageReply__Output>((md, o, cb) => this.raw.prepareStage(req, md, o, cb), timeoutMs); }
    closePipeline(pipelineId: string, timeoutMs = 10000) { return this.unary<object>((md, o, cb) => this.raw.closePipeline({ pipelineId }, md, o, cb), timeoutMs); }

    /**
     * Sends a stage file from byte `from`. A refusal at any moment (disk full, another upload,
     * damaged data) rejects this promise, never leaves it hanging or unhandled; so does `signal`.
     */
    async upload(file: string, header: UploadHeader, from: number, options: { signal?: AbortSignal; onProgress?: (bytesDone: number) => void; chunkBytes?: number } = {}): Promise<UploadReply__Output> {
        let stream!: grpc.ClientWritableStream<UploadChunk>;
        const done = new Promise<UploadReply__Output>((resolve, reject) => {
            stream = this.raw.uploadStage(bearer(this.token), (e, r) => (e ? reject(e) : resolve(r!)));
        });
        done.catch(() => {}); // raced below; never unhandled
        const fh = await fs.promises.open(file, "r");
        const chunk = Buffer.alloc(options.chunkBytes ?? 1024 * 1024);
        let offset = from;
        let settled = false;
        done.finally(() => { settled = true; }).catch(() => {});
        try {
            while (offset < header.stageBytes && !settled) {
                const { bytesRead } = await fh.read(chunk, 0, Math.min(chunk.length, header.stageBytes - offset), offset);
                if (bytesRead <= 0) throw new Error(`${file} is shorter than ${header.stageBytes} bytes`);
                const ok = stream.write({ header: offset === from ? header : null, offset, data: Buffer.from(chunk.subarray(0, bytesRead)) });
                offset += bytesRead;
                options.onProgress?.(offset);
                // Wait for room, for the node's answer (a refusal), or for the signal.
                if (!ok) await raceSignal(Promise.race([new Promise<void>((r) => stream.once("drain", r)), done.then(() => {})]), options.signal);
                else if (options.signal?.aborted) throw options.signal.reason;
            }
            stream.end();
            return await raceSignal(done, options.signal);
        } catch (e) {
            stream.cancel?.();
            throw settled ? await done.catch((err: unknown) => err) : e;
        } finally {
            await fh.close();
        }
    }

    attach(pipelineId: string, stageIndex: number): grpc.ClientReadableStream<PipelineEvent__Output> {
        return this.raw.attach({ pipelineId, stageIndex }, bearer(this.token));
    }

    /** The activation stream into a stage; `done` settles when the node ends the call. */
    forward(): { stream: grpc.ClientWritableStream<ForwardMessage>; done: Promise<void> } {
        let stream!: grpc.ClientWritableStream<ForwardMessage>;
        const done = new Promise<void>((resolve, reject) => { stream = this.raw.forward(bearer(this.token), (e) => (e ? reject(e) : resolve())); });
        done.catch(() => {});
        return { stream, done };
    }

    close() { this.raw.close(); }
}
