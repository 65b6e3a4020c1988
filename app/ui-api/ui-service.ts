// The engine's side of the UI contract (contract.ts): this machine's node and everything the UI
// asks of it. It owns the node's life (setup → starting → running; create, join, leave), keeps the
// streams (app, cluster, model, downloads, chats) as EventHubs, and answers requests. The Electron
// worker and the web UI's WebSocket bridge both serve exactly this object, so the desktop app and
// the web UI cannot differ. Nothing here knows of Electron, React or HTTP.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { ChatStore } from "../chats/chat-store.ts";
import type { ClusterModel, ClusterViewState } from "../cluster/cluster-view.ts";
import { formatHostPort } from "../cluster/host-port.ts";
import { parseJoinCode } from "../cluster/join-code.ts";
import { joinCluster } from "../cluster/join-cluster.ts";
import { removeLocalNodeRecord, writeLocalNodeRecord } from "../cluster/local-node.ts";
import { createNodeCluster, forgetNodeCluster, loadNodeCluster, type NodeCluster } from "../cluster/node-cluster.ts";
import { readGgufHeader } from "../gguf/reader.ts";
import { kvNumber, kvString } from "../gguf/format.ts";
import type { HostProgress } from "../host/model-host.ts";
import { makeModel } from "../model/make-model.ts";
import { HearthNode, type NodeOptions } from "../node/node.ts";
import { modelShapeFromHeader } from "../placement/model-shape.ts";
import { grpcMessage, NodeClient } from "../protocol/node-client.ts";
import type { ChatEvent__Output, ChatResult__Output } from "../protocol/proto.ts";
import { modelLayerCount } from "../stage/slice.ts";
import { EventHub } from "../util/event-hub.ts";
import { HEARTH_VERSION } from "../version.ts";
import { writeFileAtomicSync } from "../util/atomic-file.ts";
import { OpenAiServer } from "../openai/openai-server.ts";
import { ModelDownloadError, ModelDownloads } from "../models/model-downloads.ts";
import { catalogueWithFit } from "../models/catalogue.ts";
import {
    UiError, applyUiEvent, isUiMethod,
    type AppState, type ChatMessageView, type HearthApi, type ModelFacts, type ModelState, type ReplyStats,
    type UiMethod, type UiParams, type UiResult, type UiStreamMessage, type UiStreamName, type UiStreams
} from "./contract.ts";

export interface UiServiceOptions {
    dataDir: string;
    /** which shell serves the UI */
    shell: "desktop" | "web";
    /** this machine's name in the cluster. Defaults to the host name */
    name?: string;
    /** the node's gRPC port. Defaults to 7420 (0: any free port) */
    port?: number;
    /** the address the node listens on. Defaults to 0.0.0.0 (every interface) */
    host?: string;
    /** LAN discovery. Defaults to true */
    discovery?: boolean;
    /** measure this machine's speed profile. Defaults to true */
    measureSpeed?: boolean;
    /** where downloaded models and the test model go. Defaults to `<dataDir>/models` */
    modelsDir?: string;
    /** node settings passed on as they are */
    node?: Pick<NodeOptions, "memoryLimitBytes" | "gpuMemoryLimitBytes" | "leaseMs" | "inviteValidityMs" | "memberSyncMs">;
    /** the context size a model is loaded with when the UI does not say. Defaults to 4096 */
    contextSize?: number;
    /** the longest reply, in tokens, when the UI does not say. Defaults to 1024 */
    maxReplyTokens?: number;
    /** serve the OpenAI-compatible API whatever the saved setting says (`hearth node --web --api`); otherwise the setting decides (off by default) */
    api?: { host?: string; port?: number; apiKey?: string | null };
    log?: (line: string) => void;
}

/** The built-in test model: a llama of 6 layers with random weights and a real tokenizer (about 20 MB). */
export const TEST_MODEL = Object.freeze({ fileName: "hearth-test-model.gguf", arch: "llama", vocab: "llama-spm", layers: 6, embd: 256, heads: 4, kvHeads: 2, ff: 512, type: "f32", tied: false, seed: 7 } as const);

/** Why replies are aborted when the node stops (not the user's Stop). */
const NODE_STOPPED = "node-stopped";

type Hubs = { [S in UiStreamName]: EventHub<UiStreams[S]["state"], UiStreams[S]["event"] & { type: string }> };

const NO_MODEL: ModelState = Object.freeze({ hosted: null, loading: null, error: "", facts: null }) as ModelState;

export class UiService implements HearthApi {
    private readonly hubs: Hubs;
    private readonly chats: ChatStore;
    private readonly downloads: ModelDownloads;
    private node: HearthNode | null = null;
    private self: NodeClient | null = null;
    private readonly unsubscribe: Array<() => void> = [];
    private readonly replies = new Map<string, AbortController>();
    private viewTimer: NodeJS.Timeout | null = null;
    private leaving = false;
    private settings: UiSettings;
    private apiServer: OpenAiServer | null = null;
    private localAddress: string | null = null;
    private busy: Promise<unknown> = Promise.resolve();
    private disposedFlag = false;
    private readonly disposeListeners = new Set<() => void>();

    private constructor(private readonly options: UiServiceOptions) {
        this.settings = readSettings(options.dataDir);
        const app: AppState = {
            phase: "setup", version: HEARTH_VERSION, nodeName: options.name ?? os.hostname(), nodeId: null, clusterId: null, address: null, message: "", shell: options.shell,
            api: { enabled: options.api != null || this.settings.api.enabled, url: null, error: "" }
        };
        this.chats = ChatStore.open({ dir: path.join(options.dataDir, "chats"), ...(options.log != null ? { log: options.log } : {}) });
        this.downloads = new ModelDownloads({ modelsDir: this.modelsDir, onChange: (list) => this.hubs.downloads.emit({ type: "changed", state: list }) });
        this.hubs = {
            app: new EventHub(app, (s, e) => applyUiEvent("app", s, e)),
            cluster: new EventHub<ClusterViewState | null, UiStreams["cluster"]["event"]>(null, (s, e) => applyUiEvent("cluster", s, e)),
            model: new EventHub(NO_MODEL, (s, e) => applyUiEvent("model", s, e)),
            downloads: new EventHub(this.downloads.list(), (s, e) => applyUiEvent("downloads", s, e)),
            chats: this.chats.events
        } as Hubs;
    }

    /** Opens the chats and, when this machine is in a cluster, starts its node; otherwise waits in setup for the user to create or join one. */
    static async start(options: UiServiceOptions): Promise<UiService> {
        const service = new UiService(options);
        let cluster: NodeCluster | null = null;
        try {
            cluster = loadNodeCluster(options.dataDir);
        } catch (e) {
            service.setApp({ phase: "failed", message: (e as Error).message });
            return service;
        }
        if (cluster != null) await service.startNode(cluster).catch(() => {});
        return service;
    }

    get disposed(): boolean { return this.disposedFlag; }
    onDispose(listener: () => void): () => void { this.disposeListeners.add(listener); return () => this.disposeListeners.delete(listener); }
    /** The node while it runs (for tests and the CLI); null otherwise. */
    get runningNode(): HearthNode | null { return this.node; }
    /** The OpenAI-compatible API's base URL while it serves; null otherwise. */
    get apiUrl(): string | null { return this.hubs.app.state.api.url; }
    get modelsDir(): string { return this.options.modelsDir ?? path.join(this.options.dataDir, "models"); }

    // ---- the contract ------------------------------------------------------------------------

    subscribe<S extends UiStreamName>(stream: S, listener: (message: UiStreamMessage<S>) => void): () => void {
        const hub = this.hubs[stream] as unknown as EventHub<UiStreams[S]["state"], UiStreams[S]["event"] & { type: string }>;
        if (hub == null) throw new UiError(`unknown stream '${String(stream)}'`, "bad-request");
        return hub.subscribe((message) => {
            // The hub's first message is {type: "state"}; no event of any stream has that type.
            if ((message as { type: string }).type === "state") listener({ kind: "state", state: (message as { state: UiStreams[S]["state"] }).state });
            else listener({ kind: "event", event: message as UiStreams[S]["event"] });
        });
    }

    async invoke<M extends UiMethod>(method: M, params: UiParams<M>): Promise<UiResult<M>> {
        if (this.disposedFlag) throw new UiError("Hearth is shutting down", "not-ready");
        if (!isUiMethod(method)) throw new UiError(`unknown request '${String(method).slice(0, 60)}'`, "bad-request");
        const p = (params ?? {}) as Record<string, unknown>;
        try {
            return await (this.handle(method, p) as Promise<UiResult<M>>);
        } catch (e) {
            if (e instanceof UiError) throw e;
            throw new UiError(errorText(e), "failed");
        }
    }

    private handle(method: UiMethod, p: Record<string, unknown>): Promise<unknown> {
        switch (method) {
            case "cluster.create": return this.exclusive(() => this.createCluster(optionalString(p, "name")));
            case "cluster.join": return this.exclusive(() => this.joinCluster(requiredString(p, "code"), optionalString(p, "name"), optionalString(p, "peer")));
            case "cluster.invite": return this.invite();
            case "cluster.leave": return this.exclusive(() => this.leave());
            case "cluster.remove": return this.removeMember(requiredString(p, "nodeId"));
            case "cluster.addPeer": return this.running().clusterRuntime.addByAddress(requiredString(p, "address")).then(() => ({}));
            case "settings.setApi": {
                if (typeof p.enabled !== "boolean") throw new UiError("'enabled' must be true or false", "bad-request");
                return this.exclusive(() => this.setApi(p.enabled as boolean, optionalPort(p, "port")));
            }
            case "model.open": return this.openModel(requiredString(p, "path"), optionalNumber(p, "contextSize"));
            case "model.openTestModel": return this.openTestModel(optionalNumber(p, "contextSize"));
            case "model.inspect": return Promise.resolve(modelFacts(requiredString(p, "path"), this.modelsDir));
            case "model.catalogue": return this.catalogue();
            case "model.download": {
                try {
                    return Promise.resolve(this.downloads.start(requiredString(p, "url")));
                } catch (e) {
                    if (e instanceof ModelDownloadError) throw new UiError(e.message, "bad-request");
                    throw e;
                }
            }
            case "model.cancelDownload": return this.downloads.cancel(requiredString(p, "id")).then(() => ({}));
            case "chat.create": return Promise.resolve(this.chats.create(optionalString(p, "title")));
            case "chat.send": return Promise.resolve(this.send(requiredString(p, "chatId"), requiredString(p, "text"), optionalNumber(p, "maxTokens")));
            case "chat.stop": this.replies.get(requiredString(p, "chatId"))?.abort(); return Promise.resolve({});
            case "chat.delete": {
                const chatId = requiredString(p, "chatId");
                this.replies.get(chatId)?.abort();
                return this.chats.delete(chatId).then(() => ({}));
            }
            case "chat.rename": this.chats.rename(requiredString(p, "chatId"), requiredString(p, "title")); return Promise.resolve({});
        }
    }

    // ---- the node's life ------------------------------------------------------------------------

    /** One change of the node's life at a time (create, join, leave). */
    private exclusive<T>(f: () => Promise<T>): Promise<T> {
        const run = this.busy.then(f, f);
        this.busy = run.catch(() => {});
        return run;
    }

    private running(): HearthNode {
        if (this.node == null) {
            const phase = this.hubs.app.state.phase;
            throw new UiError(phase === "setup" ? "this machine is in no cluster yet: create one, or join one with a code from a member" : `this machine's node is not running (${this.hubs.app.state.message || phase})`, "not-ready");
        }
        return this.node;
    }

    private async createCluster(name: string | undefined): Promise<AppState> {
        if (!this.canSetUp()) throw new UiError("this machine is in a cluster already: leave it first to create a new one", "bad-request");
        const nodeName = this.nameFor(name);
        this.setApp({ phase: "starting", nodeName, message: "creating the cluster…" });
        let cluster: NodeCluster;
        try {
            cluster = await createNodeCluster(this.options.dataDir, { nodeName });
        } catch (e) {
            this.setApp({ phase: "setup", message: "" });
            throw new UiError(`the cluster could not be created: ${errorText(e)}`, "failed");
        }
        await this.startNode(cluster);
        return this.hubs.app.state;
    }

    private async joinCluster(code: string, name: string | undefined, peer: string | undefined): Promise<AppState> {
        if (!this.canSetUp()) throw new UiError("this machine is in a cluster already: leave it first to join another", "bad-request");
        try {
            parseJoinCode(code);
        } catch (e) {
            throw new UiError((e as Error).message, "bad-request");
        }
        const nodeName = this.nameFor(name);
        this.setApp({ phase: "starting", nodeName, message: peer != null ? `joining through ${peer}…` : "looking for the cluster's machines on this network…" });
        let cluster: NodeCluster;
        try {
            cluster = await joinCluster({ dataDir: this.options.dataDir, code, name: nodeName, ...(peer != null ? { peer } : {}), log: (line) => this.log(line) });
        } catch (e) {
            this.setApp({ phase: "setup", message: "" });
            throw new UiError(errorText(e), "failed");
        }
        await this.startNode(cluster);
        return this.hubs.app.state;
    }

    /** Whether this machine may create or join a cluster now: in setup, or failed with no cluster left in its data dir. */
    private canSetUp(): boolean {
        const phase = this.hubs.app.state.phase;
        if (this.node != null || (phase !== "setup" && phase !== "failed")) return false;
        if (phase === "setup") return true;
        try {
            return loadNodeCluster(this.options.dataDir) == null;
        } catch (e) {
            throw new UiError(errorText(e), "failed");
        }
    }

    private nameFor(name: string | undefined): string {
        const n = (name ?? "").trim() || this.hubs.app.state.nodeName;
        if (n.length > 64 || /[\u0000-\u001f]/.test(n)) throw new UiError("a machine's name has at most 64 characters, none of them control characters", "bad-request");
        return n;
    }

    private async startNode(cluster: NodeCluster): Promise<void> {
        const name = cluster.members.get(cluster.identity.nodeId)?.name || this.hubs.app.state.nodeName;
        this.setApp({ phase: "starting", nodeName: name, nodeId: cluster.identity.nodeId, clusterId: cluster.membership.clusterId, message: "starting this machine's node…" });
        const host = this.options.host ?? "0.0.0.0";
        let node: HearthNode;
        try {
            node = await HearthNode.start({
                name, host, port: this.options.port ?? 7420, dataDir: this.options.dataDir, cluster,
                discovery: this.options.discovery ?? true, measureSpeed: this.options.measureSpeed ?? true,
                ...this.options.node,
                onRemovedFromCluster: () => { void this.removedFromCluster(); },
                ...(this.options.log != null ? { log: this.options.log } : {})
            });
        } catch (e) {
            this.setApp({ phase: "failed", message: errorText(e) });
            throw new UiError(errorText(e), "failed");
        }
        this.node = node;
        const local = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
        const localAddress = formatHostPort({ host: local, port: node.port });
        writeLocalNodeRecord(this.options.dataDir, { address: localAddress, advertised: node.clusterRuntime.address, pid: process.pid, nodeId: node.nodeId });
        this.self = new NodeClient(localAddress, { cluster, expectedNodeId: node.nodeId });
        this.localAddress = localAddress;
        this.unsubscribe.push(node.clusterRuntime.view.subscribe(() => this.viewChanged()));
        this.setApp({ phase: "running", address: node.clusterRuntime.address, message: "" });
        await this.applyApi();
        this.log(`hearth node '${name}' listening on ${node.clusterRuntime.address.replace(/:\d+$/, "")}:${node.port}`);
    }

    /** The cluster view changed: passed on at most 4 times a second (it changes in bursts, every few seconds). */
    private viewChanged(): void {
        if (this.viewTimer != null) return;
        const send = () => {
            this.viewTimer = null;
            const view = this.node?.clusterRuntime.view.state ?? null;
            this.hubs.cluster.emit({ type: "changed", state: view });
            this.setModel({ hosted: view?.model ?? null });
        };
        // The first view goes at once; later ones are gathered for a moment.
        if (this.hubs.cluster.state == null) { send(); return; }
        this.viewTimer = setTimeout(send, 250);
        this.viewTimer.unref();
    }

    private async stopNode(): Promise<void> {
        for (const reply of this.replies.values()) reply.abort(NODE_STOPPED);
        await this.stopApi();
        this.localAddress = null;
        for (const u of this.unsubscribe.splice(0)) u();
        if (this.viewTimer != null) { clearTimeout(this.viewTimer); this.viewTimer = null; }
        this.self?.close();
        this.self = null;
        const node = this.node;
        this.node = null;
        if (node != null) {
            removeLocalNodeRecord(this.options.dataDir);
            await node.dispose();
        }
        this.hubs.cluster.emit({ type: "changed", state: null });
        this.setModel({ hosted: null, loading: null });
    }

    private async leave(): Promise<AppState> {
        // A node that failed (removed, or it cannot start) leaves by forgetting the cluster here.
        if (this.node == null && this.hubs.app.state.phase === "failed") {
            try {
                forgetNodeCluster(this.options.dataDir);
            } catch (e) {
                throw new UiError(`this machine could not forget its cluster: ${errorText(e)}`, "failed");
            }
            this.setApp({ phase: "setup", nodeId: null, clusterId: null, address: null, message: "" });
            return this.hubs.app.state;
        }
        const node = this.running();
        this.leaving = true;
        try {
            try {
                node.clusterRuntime.removeMember(node.nodeId, node.nodeId);
                await node.clusterRuntime.syncAll();
            } catch (e) {
                this.log(`the other members could not all be told that this machine left (${errorText(e)}); they refuse it once they hear it from one another`);
            }
            await this.stopNode();
            forgetNodeCluster(this.options.dataDir);
            this.setApp({ phase: "setup", nodeId: null, clusterId: null, address: null, message: "" });
        } finally {
            this.leaving = false;
        }
        return this.hubs.app.state;
    }

    private async removedFromCluster(): Promise<void> {
        if (this.leaving) return;
        await this.stopNode();
        this.setApp({ phase: "failed", address: null, message: "this machine was removed from its cluster by another member: leave it here, then join again with a new code" });
    }

    private async invite() {
        const node = this.running();
        const { invite, joinAddress, inviterName } = await node.clusterRuntime.createInvite(node.nodeId);
        return { code: invite.code, expiresAtMs: invite.expiresAt, joinAddress, inviterName };
    }

    private async removeMember(nodeId: string) {
        const node = this.running();
        if (nodeId === node.nodeId) throw new UiError("that is this machine: use Leave", "bad-request");
        node.clusterRuntime.removeMember(node.nodeId, nodeId);
        await node.clusterRuntime.syncAll();
        return {};
    }

    // ---- the OpenAI-compatible API ----------------------------------------------------------------

    private async setApi(enabled: boolean, port: number | undefined): Promise<AppState> {
        this.settings = { ...this.settings, api: { enabled, port: port ?? this.settings.api.port } };
        try {
            writeSettings(this.options.dataDir, this.settings);
        } catch (e) {
            throw new UiError(`the setting could not be saved: ${errorText(e)}`, "failed");
        }
        this.changeApiState({ enabled: enabled || this.options.api != null });
        await this.applyApi();
        return this.hubs.app.state;
    }

    private changeApiState(change: Partial<AppState["api"]>): void {
        this.setApp({ api: { ...this.hubs.app.state.api, ...change } });
    }

    /** Serves the API when it is on and the node runs; stops it otherwise. */
    private async applyApi(): Promise<void> {
        const wanted = this.hubs.app.state.api.enabled && this.node != null && this.localAddress != null;
        if (!wanted) { await this.stopApi(); return; }
        if (this.apiServer != null) {
            const port = this.options.api?.port ?? this.settings.api.port;
            if (port == null || port === 0 || this.apiServer.port === port) return; // already serving where it should
            await this.stopApi();
        }
        const node = this.node!;
        const server = new OpenAiServer({
            node: { address: this.localAddress!, nodeId: node.nodeId, cluster: node.cluster },
            model: () => this.hostedNow(),
            host: this.options.api?.host ?? "127.0.0.1",
            ...((this.options.api?.port ?? this.settings.api.port) != null ? { port: this.options.api?.port ?? this.settings.api.port! } : {}),
            ...(this.options.api?.apiKey != null ? { apiKey: this.options.api.apiKey } : {}),
            ...(this.options.log != null ? { log: this.options.log } : {})
        });
        try {
            const { url } = await server.start();
            this.apiServer = server;
            this.changeApiState({ url, error: "" });
            this.log(`hearth OpenAI-compatible API on ${url}`);
        } catch (e) {
            await server.dispose().catch(() => {});
            this.changeApiState({ url: null, error: errorText(e) });
        }
    }

    private async stopApi(): Promise<void> {
        const server = this.apiServer;
        this.apiServer = null;
        if (server != null) await server.dispose();
        if (this.hubs.app.state.api.url != null) this.changeApiState({ url: null });
    }

    // ---- the model ------------------------------------------------------------------------------

    private async openModel(modelPath: string, contextSize: number | undefined): Promise<ModelState> {
        const node = this.running();
        if (this.hubs.model.state.loading != null) throw new UiError("a model is loading already: wait for it, or for its error", "bad-request");
        let facts: ModelFacts;
        try {
            facts = modelFacts(modelPath, this.modelsDir);
        } catch (e) {
            this.setModel({ error: errorText(e) });
            throw new UiError(errorText(e), "bad-request");
        }
        this.setModel({ facts, error: "", loading: { phase: "planning", message: `placing ${facts.fileName} over the members`, bytesDone: 0, bytesTotal: 0 } });
        try {
            await node.host.loadModel({ modelPath: facts.path, stage: { contextSize: contextSize ?? this.options.contextSize ?? 4096 } }, (p: HostProgress) => {
                this.setModel({ loading: { phase: p.phase, message: p.message, bytesDone: "bytesDone" in p ? p.bytesDone : 0, bytesTotal: "bytesTotal" in p ? p.bytesTotal : 0 } });
            });
        } catch (e) {
            this.setModel({ loading: null, error: errorText(e) });
            throw new UiError(errorText(e), "failed");
        }
        this.setModel({ loading: null, error: "", hosted: this.hostedNow() });
        return this.hubs.model.state;
    }

    private async openTestModel(contextSize: number | undefined): Promise<ModelState> {
        this.running();
        if (this.hubs.model.state.loading != null) throw new UiError("a model is loading already: wait for it, or for its error", "bad-request");
        const file = path.join(this.modelsDir, TEST_MODEL.fileName);
        if (!fs.existsSync(file)) {
            this.setModel({ error: "", loading: { phase: "making the test model", message: "making Hearth's test model (random weights)", bytesDone: 0, bytesTotal: 0 } });
            try {
                fs.mkdirSync(this.modelsDir, { recursive: true });
                const partial = `${file}.partial`;
                const { fileName: _name, ...spec } = TEST_MODEL;
                await makeModel({ ...spec, out: partial, onProgress: (p) => this.setModel({ loading: { phase: "making the test model", message: `making Hearth's test model (${p.phase})`, bytesDone: p.bytesDone, bytesTotal: p.bytesTotal } }) });
                fs.renameSync(partial, file);
            } catch (e) {
                this.setModel({ loading: null, error: `the test model could not be made: ${errorText(e)}` });
                throw new UiError(this.hubs.model.state.error, "failed");
            }
            this.setModel({ loading: null });
        }
        return this.openModel(file, contextSize);
    }

    /** The hosted model as this node knows it now (its own, when it hosts; the view's otherwise). */
    private hostedNow(): ClusterModel | null {
        return this.node?.clusterRuntime.view.state.model ?? this.hubs.model.state.hosted;
    }

    private async catalogue() {
        const node = this.running();
        await node.clusterRuntime.refreshPeers();
        const own = await node.info();
        const members = node.clusterRuntime.liveMembers().map((m) => ({
            ...m, info: m.nodeId === node.nodeId ? own : node.clusterRuntime.infoOf(m.nodeId)
        })).filter((m) => m.info != null) as Parameters<typeof catalogueWithFit>[0];
        return catalogueWithFit(members, { contextSize: this.options.contextSize ?? 4096 });
    }

    // ---- chats ------------------------------------------------------------------------------------

    private send(chatId: string, text: string, maxTokens: number | undefined): { messageId: string } {
        const chat = this.chats.chat(chatId);
        if (text.trim() === "") throw new UiError("the message is empty", "bad-request");
        if (this.replies.has(chatId)) throw new UiError("a reply is still coming in this chat: wait for it, or press Stop", "bad-request");
        this.running();
        if (this.hostedNow() == null) throw new UiError("no model is loaded in this cluster yet: open one in the Model pane (or the test model to try it)", "not-ready");
        const history = chat.messages.filter((m) => m.status === "done" || (m.status === "stopped" && m.text !== "")).map((m) => ({ role: m.role, content: m.text }));
        this.chats.add(chatId, { role: "user", text, status: "done", error: "", stats: null });
        if (chat.messages.length === 0 && chat.title === "New chat") this.chats.rename(chatId, text.slice(0, 60));
        const reply = this.chats.add(chatId, { role: "assistant", text: "", status: "streaming", error: "", stats: null });
        const abort = new AbortController();
        this.replies.set(chatId, abort);
        void this.stream(chatId, reply.id, [...history, { role: "user", content: text }], maxTokens ?? this.options.maxReplyTokens ?? 1024, abort.signal)
            .finally(() => { if (this.replies.get(chatId) === abort) this.replies.delete(chatId); });
        return { messageId: reply.id };
    }

    /** Streams a reply from the cluster's model (through this node, which passes it to the host) into the chat. */
    private async stream(chatId: string, messageId: string, messages: Array<{ role: string; content: string }>, maxTokens: number, signal: AbortSignal): Promise<void> {
        const self = this.self;
        const t0 = performance.now();
        let firstMs: number | null = null;
        let tokens = 0;
        const stats = (result: ChatResult__Output | null, stopReason: string): ReplyStats => {
            const elapsed = performance.now() - t0;
            const planVersion = result?.planVersion ?? this.hostedNow()?.planVersion ?? 0;
            const hosted = this.hostedNow();
            return {
                timeToFirstTokenMs: result?.timeToFirstTokenMs ?? firstMs ?? elapsed,
                tokensPerSecond: result?.decodeTokensPerSecond ?? (tokens > 1 && firstMs != null ? ((tokens - 1) * 1000) / (elapsed - firstMs) : 0),
                tokens: result?.tokens.length ?? tokens,
                servedBy: hosted != null && hosted.planVersion === planVersion ? hosted.plan.stages.map((s) => s.name) : [],
                hostName: result?.hostName ?? hosted?.hostName ?? "",
                planVersion, stopReason
            };
        };
        const end = (m: Pick<ChatMessageView, "status" | "error" | "stats">) => { try { this.chats.finish(chatId, messageId, m); } catch { /* the chat was deleted meanwhile */ } };
        if (self == null) { end({ status: "failed", error: "this machine's node is not running", stats: null }); return; }
        await new Promise<void>((resolve) => {
            const call = self.raw.chat({ messages, maxTokens }, new grpc.Metadata());
            const onAbort = () => call.cancel();
            signal.addEventListener("abort", onAbort, { once: true });
            let result: ChatResult__Output | null = null;
            call.on("data", (e: ChatEvent__Output) => {
                if (e.delta != null) {
                    if (e.delta.tokens.length > 0 && firstMs == null) firstMs = performance.now() - t0;
                    tokens += e.delta.tokens.length;
                    try { this.chats.append(chatId, messageId, e.delta.text); } catch { call.cancel(); }
                }
                if (e.result != null) result = e.result;
            });
            // The call ends once, whichever of its events comes first (a cancelled call may end before its error).
            let settled = false;
            const settle = (error: grpc.ServiceError | null) => {
                if (settled) return;
                settled = true;
                signal.removeEventListener("abort", onAbort);
                if (result != null) end({ status: "done", error: "", stats: stats(result, result.stopReason) });
                else if (signal.aborted && signal.reason === NODE_STOPPED) end({ status: "failed", error: "this machine's node stopped while the reply was coming in; send the message again once it runs", stats: null });
                else if (signal.aborted) end({ status: "stopped", error: "", stats: stats(null, "stopped") });
                else end({ status: "failed", error: error != null ? grpcMessage(error) : "the reply ended without its result; try again", stats: null });
                resolve();
            };
            call.on("error", (e: grpc.ServiceError) => settle(e));
            call.on("end", () => settle(null));
        });
    }

    // ---- state ----------------------------------------------------------------------------------

    private setApp(change: Partial<AppState>): void {
        this.hubs.app.emit({ type: "changed", state: { ...this.hubs.app.state, ...change } });
    }

    private setModel(change: Partial<ModelState>): void {
        this.hubs.model.emit({ type: "changed", state: { ...this.hubs.model.state, ...change } });
    }

    private log(line: string): void { this.options.log?.(line); }

    async dispose(): Promise<void> {
        if (this.disposedFlag) return;
        this.disposedFlag = true;
        await this.busy.catch(() => {});
        await this.stopNode();
        await this.downloads.dispose();
        await this.chats.dispose();
        for (const listener of this.disposeListeners) listener();
    }
}

/** The facts of a GGUF file, from its header (a clear error when it is not one). */
export function modelFacts(file: string, modelsDir: string): ModelFacts {
    const resolved = path.resolve(file);
    let size: number;
    try {
        size = fs.statSync(resolved).size;
    } catch {
        throw new UiError(`there is no file at ${resolved} on this machine: give the path of a .gguf file on the machine whose node runs this UI`, "bad-request");
    }
    let header;
    try {
        header = readGgufHeader(resolved);
    } catch (e) {
        throw new UiError(`${path.basename(resolved)} is not a model Hearth can read: ${errorText(e)}`, "bad-request");
    }
    const shape = modelShapeFromHeader(header, path.basename(resolved));
    const arch = kvString(header, "general.architecture") ?? "unknown";
    return {
        fileName: path.basename(resolved), path: resolved, architecture: arch, name: kvString(header, "general.name") ?? path.basename(resolved),
        parameters: shape.parameters, quantization: shape.quantization, sizeBytes: size, layers: modelLayerCount(header, resolved),
        trainedContext: kvNumber(header, `${arch}.context_length`) ?? null,
        testModel: path.resolve(modelsDir, TEST_MODEL.fileName) === resolved
    };
}

/** What the UI's settings keep in `<dataDir>/settings.json`. */
interface UiSettings { api: { enabled: boolean; port?: number } }

function settingsFile(dataDir: string): string { return path.join(dataDir, "settings.json"); }

/** The saved settings; the defaults when there are none, or when the file is damaged (it is then rewritten on the next change). */
function readSettings(dataDir: string): UiSettings {
    try {
        const raw = JSON.parse(fs.readFileSync(settingsFile(dataDir), "utf8")) as { api?: { enabled?: unknown; port?: unknown } };
        const port = raw.api?.port;
        return { api: { enabled: raw.api?.enabled === true, ...(typeof port === "number" && Number.isInteger(port) && port >= 0 && port < 65536 ? { port } : {}) } };
    } catch {
        return { api: { enabled: false } };
    }
}

function writeSettings(dataDir: string, settings: UiSettings): void {
    fs.mkdirSync(dataDir, { recursive: true });
    writeFileAtomicSync(settingsFile(dataDir), JSON.stringify(settings, null, 2) + "\n", 0o600);
}

function optionalPort(p: Record<string, unknown>, key: string): number | undefined {
    const v = p[key];
    if (v == null) return undefined;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 65535) throw new UiError(`'${key}' must be a port number (1-65535, or 0: any free one)`, "bad-request");
    return v;
}

function errorText(e: unknown): string {
    return e instanceof Error ? e.message : String(e);
}

function requiredString(p: Record<string, unknown>, key: string): string {
    const v = p[key];
    if (typeof v !== "string" || v === "") throw new UiError(`'${key}' is missing`, "bad-request");
    if (v.length > 100000) throw new UiError(`'${key}' is too long`, "bad-request");
    return v;
}

function optionalString(p: Record<string, unknown>, key: string): string | undefined {
    const v = p[key];
    if (v == null || v === "") return undefined;
    if (typeof v !== "string" || v.length > 10000) throw new UiError(`'${key}' must be a short text`, "bad-request");
    return v;
}

function optionalNumber(p: Record<string, unknown>, key: string): number | undefined {
    const v = p[key];
    if (v == null) return undefined;
    if (typeof v !== "number" || !Number.isInteger(v) || v <= 0 || v > 1 << 20) throw new UiError(`'${key}' must be a positive whole number`, "bad-request");
    return v;
}
