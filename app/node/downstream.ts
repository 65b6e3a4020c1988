// A stage's link to the next stage's node: one Forward stream, opened at prepare time, reopened
// with backoff when it breaks. While it is down, what would travel on it is refused (its
// sequences fail); once it is back, new steps flow again. The link is made to one member only:
// the node id the coordinator named, proven by its certificate.
import * as grpc from "@grpc/grpc-js";
import type { NodeCluster } from "../cluster/node-cluster.ts";
import { NodeClient, grpcMessage } from "../protocol/node-client.ts";
import type { ForwardMessage } from "../protocol/proto.ts";

export interface DownstreamOptions {
    address: string;
    /** the node that must be at `address` (a member: checked by its certificate) */
    nodeId: string;
    cluster: Pick<NodeCluster, "identity" | "membership">;
    pipelineKey: string;
    /** the link broke (`connected` false, with why) or came back */
    onStatus: (connected: boolean, message: string) => void;
}

export class DownstreamLink {
    private client: NodeClient;
    private stream: grpc.ClientWritableStream<ForwardMessage> | null = null;
    private connectedNow = false;
    private closed = false;
    private retryMs = 200;
    private timer: NodeJS.Timeout | null = null;
    lastError = "";

    private constructor(private readonly options: DownstreamOptions) {
        this.client = new NodeClient(options.address, { cluster: options.cluster, expectedNodeId: options.nodeId });
    }

    /** Joins the next node and opens the stream; rejects when it cannot be reached now. */
    static async open(options: DownstreamOptions): Promise<DownstreamLink> {
        const link = new DownstreamLink(options);
        try {
            await link.connect();
        } catch (e) {
            link.close();
            throw e;
        }
        return link;
    }

    get address(): string { return this.options.address; }
    get connected(): boolean { return this.connectedNow; }

    private async connect() {
        await this.client.connect();
        const md = this.client.metadata();
        md.set("x-hearth-pipeline-key", this.options.pipelineKey);
        let stream!: grpc.ClientWritableStream<ForwardMessage>;
        const ended = new Promise<void>((resolve, reject) => { stream = this.client.raw.forward(md, (e) => (e ? reject(e) : resolve())); });
        ended.then(() => this.broke("the next node ended the stream"), (e: unknown) => this.broke(grpcMessage(e)));
        this.stream = stream;
        this.connectedNow = true;
        this.retryMs = 200;
    }

    private broke(why: string) {
        if (this.closed || !this.connectedNow) return;
        this.connectedNow = false;
        this.stream = null;
        this.lastError = why;
        this.options.onStatus(false, why);
        this.scheduleReconnect();
    }

    private scheduleReconnect() {
        if (this.closed || this.timer != null) return;
        this.timer = setTimeout(() => {
            this.timer = null;
            if (this.closed) return;
            this.client.close();
            this.client = new NodeClient(this.options.address, { cluster: this.options.cluster, expectedNodeId: this.options.nodeId });
            this.connect().then(() => { if (!this.closed) this.options.onStatus(true, "reconnected"); }, (e: unknown) => {
                this.lastError = grpcMessage(e);
                this.retryMs = Math.min(5000, this.retryMs * 2);
                this.scheduleReconnect();
            });
        }, this.retryMs);
        this.timer.unref();
    }

    /** Sends a message on; false when the link is down (the caller fails what it carried). */
    send(message: ForwardMessage): boolean {
        if (!this.connectedNow || this.stream == null) return false;
        this.stream.write(message);
        return true;
    }

    close(): void {
        if (this.closed) return;
        this.closed = true;
        if (this.timer != null) clearTimeout(this.timer);
        this.connectedNow = false;
        try { this.stream?.end(); } catch { /* already gone */ }
        this.stream = null;
        this.client.close();
    }
}
