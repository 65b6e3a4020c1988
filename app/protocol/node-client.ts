// A typed client of one node over mutual TLS with this machine's cluster certificate: the node
// must be a member (its certificate signed by the cluster CA; with `expectedNodeId`, that very
// node), and it serves this machine only while this machine is a member. Used by coordinators and
// by nodes (to their successor).
import fs from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { MTLS_CHANNEL_OPTIONS, channelCredentials } from "../cluster/credentials.ts";
import type { NodeCluster } from "../cluster/node-cluster.ts";
import type { MemberEntry } from "../cluster/member-list.ts";
import {
    MAX_MESSAGE_BYTES, PROTOCOL_VERSION, nodeContract,
    type ForwardMessage, type InviteReply__Output, type MemberList__Output, type NodeInfo__Output, type PipelineEvent__Output, type PrepareStageReply__Output, type PrepareStageRequest,
    type RawNodeClient, type UploadChunk, type UploadReply__Output
} from "./proto.ts";
import { explainUnreachable } from "./admission-client.ts";
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

/** The channel options of every node-to-node connection. */
export const NODE_CHANNEL_OPTIONS: grpc.ChannelOptions = {
    ...MTLS_CHANNEL_OPTIONS,
    "grpc.max_receive_message_length": MAX_MESSAGE_BYTES, "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
    "grpc.keepalive_time_ms": 10000, "grpc.keepalive_timeout_ms": 5000, "grpc.keepalive_permit_without_calls": 1,
    "grpc.initial_reconnect_backoff_ms": 200, "grpc.max_reconnect_backoff_ms": 2000
};

export interface NodeClientOptions {
    /** This machine's cluster: its certificate is presented, and the node's checked against its CA. */
    cluster: Pick<NodeCluster, "identity" | "membership">;
    /** The node id the node must have. Defaults to any member of the cluster. */
    expectedNodeId?: string;
}

/** A member list as the wire carries it, to this module's entries. */
export function memberEntriesFromWire(list: MemberList__Output | null | undefined): MemberEntry[] {
    return (list?.members ?? []).map((m) => ({ nodeId: m.nodeId, name: m.name, address: m.address === "" ? null : m.address, removed: m.removed, changedAtMs: m.changedAtMs }));
}

export function memberEntriesToWire(entries: readonly MemberEntry[]) {
    return { members: entries.map((m) => ({ nodeId: m.nodeId, name: m.name, address: m.address ?? "", removed: m.removed, changedAtMs: m.changedAtMs })) };
}

export class NodeClient {
    readonly raw: RawNodeClient;
    node: NodeInfo__Output | null = null;
    /** The node id in the server's certificate, once connected. */
    serverNodeId: string | null = null;

    constructor(readonly address: string, private readonly options: NodeClientOptions) {
        const Node = nodeContract().hearth.v1.Node;
        const credentials = channelCredentials(options.cluster.identity, options.cluster.membership, {
            ...(options.expectedNodeId != null ? { expectedNodeId: options.expectedNodeId } : {}),
            onServerNodeId: (nodeId) => { this.serverNodeId = nodeId; }
        });
        this.raw = new Node(address, credentials, NODE_CHANNEL_OPTIONS);
    }

    get name(): string { return this.node?.name ?? this.address; }

    /** Metadata for a call (none is needed: the TLS certificate says who calls). */
    metadata(): grpc.Metadata { return new grpc.Metadata(); }

    private unary<T>(fn: (md: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: T) => void) => void, timeoutMs: number): Promise<T> {
        return new Promise((resolve, reject) => fn(new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (e, r) => (e ? reject(e) : resolve(r!))));
    }

    /**
     * Connects and asks the node who it is; refuses a node of another protocol version. A node that
     * cannot be reached, or will not complete the handshake, is explained (another cluster, no
     * Hearth there, a firewall) by asking its Admission service.
     */
    async connect(timeoutMs = 10000): Promise<NodeInfo__Output> {
        let info: NodeInfo__Output;
        try {
            info = await this.getInfo(timeoutMs);
        } catch (e) {
            const err = e as grpc.ServiceError;
            if (err?.code === grpc.status.UNAVAILABLE || err?.code === grpc.status.DEADLINE_EXCEEDED)
                throw new Error(await explainUnreachable(this.address, this.options.cluster.membership.clusterId, grpcMessage(e), this.options.expectedNodeId));
            throw e;
        }
        if (info.protocol !== PROTOCOL_VERSION)
            throw new ProtocolMismatchError(`node '${info.name}' (${this.address}) runs Hearth ${info.version} with protocol ${info.protocol}; ` +
                `this machine speaks protocol ${PROTOCOL_VERSION} — update Hearth so that all machines run the same version`);
        this.node = info;
        return info;
    }

    getInfo(timeoutMs = 10000) { return this.unary<NodeInfo__Output>((md, o, cb) => this.raw.getInfo({}, md, o, cb), timeoutMs); }
    health(timeoutMs = 5000) { return this.unary<{ serving: boolean }>((md, o, cb) => this.raw.health({}, md, o, cb), timeoutMs); }
    /** Sends `payload` and waits for the reply: one timed round trip of the link. */
    probe(payload: Uint8Array, timeoutMs = 10000) { return this.unary<{ receivedBytes: number }>((md, o, cb) => this.raw.probe({ payload }, md, o, cb), timeoutMs); }
    prepareStage(req: PrepareStageRequest, timeoutMs = 600000) { return this.unary<PrepareStageReply__Output>((md, o, cb) => this.raw.prepareStage(req, md, o, cb), timeoutMs); }
    closePipeline(pipelineId: string, timeoutMs = 10000) { return this.unary<object>((md, o, cb) => this.raw.closePipeline({ pipelineId }, md, o, cb), timeoutMs); }
    async syncMembers(entries: readonly MemberEntry[], timeoutMs = 10000): Promise<MemberEntry[]> {
        return memberEntriesFromWire(await this.unary<MemberList__Output>((md, o, cb) => this.raw.syncMembers(memberEntriesToWire(entries), md, o, cb), timeoutMs));
    }
    async removeMember(nodeId: string, timeoutMs = 10000): Promise<MemberEntry[]> {
        return memberEntriesFromWire(await this.unary<MemberList__Output>((md, o, cb) => this.raw.removeMember({ nodeId }, md, o, cb), timeoutMs));
    }
    createInvite(timeoutMs = 30000) { return this.unary<InviteReply__Output>((md, o, cb) => this.raw.createInvite({}, md, o, cb), timeoutMs); }
    async getPeers(timeoutMs = 10000): Promise<unknown> {
        const reply = await this.unary<{ viewJson: string }>((md, o, cb) => this.raw.getPeers({}, md, o, cb), timeoutMs);
        return JSON.parse(reply.viewJson) as unknown;
    }

    /**
     * Sends a stage file from byte `from`. A refusal at any moment (disk full, another upload,
     * damaged data) rejects this promise, never leaves it hanging or unhandled; so does `signal`.
     */
    async upload(file: string, header: UploadHeader, from: number, options: { signal?: AbortSignal; onProgress?: (bytesDone: number) => void; chunkBytes?: number } = {}): Promise<UploadReply__Output> {
        let stream!: grpc.ClientWritableStream<UploadChunk>;
        const done = new Promise<UploadReply__Output>((resolve, reject) => {
            stream = this.raw.uploadStage(new grpc.Metadata(), (e, r) => (e ? reject(e) : resolve(r!)));
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
        return this.raw.attach({ pipelineId, stageIndex }, new grpc.Metadata());
    }

    /** The activation stream into a stage; `done` settles when the node ends the call. */
    forward(): { stream: grpc.ClientWritableStream<ForwardMessage>; done: Promise<void> } {
        let stream!: grpc.ClientWritableStream<ForwardMessage>;
        const done = new Promise<void>((resolve, reject) => { stream = this.raw.forward(this.metadata(), (e) => (e ? reject(e) : resolve())); });
        done.catch(() => {});
        return { stream, done };
    }

    close() { this.raw.close(); }
}
