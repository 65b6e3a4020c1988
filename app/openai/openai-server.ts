// An OpenAI-compatible HTTP API for the cluster's model, served by any member (`hearth node --api`):
// POST /v1/chat/completions (streamed as server-sent events or not), POST /v1/completions (a raw
// prompt), GET /v1/models. Every request goes through this node's own Chat RPC (over mutual TLS,
// as the chat window's do): the node runs it on the model it hosts, or passes it to the member
// that hosts it, so API clients and the window share the host's generation queue. A client that
// disconnects cancels its Chat call, which stops the generation and frees its sequence on every
// stage. On 127.0.0.1 (the default) a key is optional; bound to any other address one is required
// (`Authorization: Bearer KEY`). Requests and answers are translated in ./requests.ts.
import crypto from "node:crypto";
import http from "node:http";
import net from "node:net";
import * as grpc from "@grpc/grpc-js";
import type { ClusterModel } from "../cluster/cluster-view-types.ts";
import { formatHostPort } from "../cluster/host-port.ts";
import type { NodeCluster } from "../cluster/node-cluster.ts";
import { NodeClient } from "../protocol/node-client.ts";
import type { ChatEvent__Output, ChatResult__Output } from "../protocol/proto.ts";
import {
    OpenAiError, chatCompletionChunk, chatCompletionRequest, chatCompletionResponse, checkModel, completionChunk, completionRequest, completionResponse,
    errorFromChatStatus, finishReason, modelList, modelMatches, modelObject, usage, type ResponseContext, type TranslatedRequest
} from "./requests.ts";

export interface OpenAiServerOptions {
    /** this machine's node: where it listens (an address this machine reaches), its node id and its cluster; every request goes through its Chat RPC */
    node: { address: string; nodeId: string; cluster: Pick<NodeCluster, "identity" | "membership"> };
    /** the cluster's model as this node sees it now (its own when it hosts it, else the host's); null when none */
    model: () => ClusterModel | null;
    /** the address to listen on. Defaults to 127.0.0.1 */
    host?: string;
    /** 0: any free port. Defaults to 7422 */
    port?: number;
    /** the key clients must send (`Authorization: Bearer KEY`); required when `host` is not a loopback address. Defaults to none */
    apiKey?: string | null;
    /** the largest request body; a larger one gets 413. Defaults to 4 MiB */
    maxBodyBytes?: number;
    log?: (line: string) => void;
}

/** The defaults of OpenAiServerOptions, in one place. */
export const OPENAI_API_DEFAULTS = Object.freeze({ host: "127.0.0.1", port: 7422, maxBodyBytes: 4 * 1024 * 1024 });

export class OpenAiServerError extends Error {
    constructor(message: string) { super(message); this.name = "OpenAiServerError"; }
}

export function isLoopbackHost(host: string): boolean {
    return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Throws when the API would be open to other machines without a key. */
export function checkApiBinding(host: string, apiKey: string | null | undefined): void {
    if (!isLoopbackHost(host) && (apiKey == null || apiKey === ""))
        throw new OpenAiServerError(`the OpenAI-compatible API on ${host} would be open to other machines: give it a key with --api-key KEY (or $HEARTH_API_KEY), which clients send as their API key, or keep it on 127.0.0.1 (the default)`);
}

/** The host of a Host header, without its port ("[::1]:7422" → "::1"). */
function hostOfHeader(header: string): string {
    if (header.startsWith("[")) return header.slice(1, header.indexOf("]") >= 0 ? header.indexOf("]") : undefined);
    return header.replace(/:\d*$/, "");
}

const hash = (text: string) => crypto.createHash("sha256").update(text).digest();

export class OpenAiServer {
    private readonly server: http.Server;
    private readonly client: NodeClient;
    private readonly host: string;
    private readonly maxBodyBytes: number;
    private readonly keyHash: Buffer | null;
    private portNumber = 0;
    private disposedFlag = false;
    private readonly disposeListeners = new Set<() => void>();
    /** Chat calls in progress (cancelled at dispose) */
    private readonly calls = new Set<grpc.ClientReadableStream<ChatEvent__Output>>();
    /** when each model name was first seen (its `created`) */
    private readonly seen = new Map<string, number>();

    constructor(private readonly options: OpenAiServerOptions) {
        this.host = options.host ?? OPENAI_API_DEFAULTS.host;
        const key = options.apiKey ?? null;
        checkApiBinding(this.host, key);
        this.keyHash = key == null || key === "" ? null : hash(key);
        this.maxBodyBytes = options.maxBodyBytes ?? OPENAI_API_DEFAULTS.maxBodyBytes;
        this.client = new NodeClient(options.node.address, { cluster: options.node.cluster, expectedNodeId: options.node.nodeId });
        this.server = http.createServer({ noDelay: true }, (req, res) => { void this.serve(req, res); });
    }

    /** Listens; resolves with the API's base URL (…/v1). */
    async start(): Promise<{ url: string; port: number }> {
        if (this.disposedFlag) throw new OpenAiServerError("the API server was disposed");
        const port = this.options.port ?? OPENAI_API_DEFAULTS.port;
        await new Promise<void>((resolve, reject) => {
            const failed = (e: NodeJS.ErrnoException) => {
                reject(new OpenAiServerError(e.code === "EADDRINUSE" ? `port ${port} on ${this.host} is in use: give the API another with --api PORT`
                    : e.code === "EADDRNOTAVAIL" ? `${this.host} is not an address of this machine: give --api-host one of its addresses (or 127.0.0.1)`
                        : `the OpenAI-compatible API could not listen on ${formatHostPort({ host: this.host, port })}: ${e.message}`));
            };
            this.server.once("error", failed);
            this.server.listen(port, this.host, () => { this.server.off("error", failed); resolve(); });
        });
        this.portNumber = (this.server.address() as net.AddressInfo).port;
        return { url: this.url, port: this.portNumber };
    }

    get port(): number { return this.portNumber; }
    /** The base URL an OpenAI client is given. */
    get url(): string { return `http://${formatHostPort({ host: this.host, port: this.portNumber })}/v1`; }
    get disposed(): boolean { return this.disposedFlag; }
    onDispose(listener: () => void): () => void { this.disposeListeners.add(listener); return () => this.disposeListeners.delete(listener); }

    /** Stops listening, cancels the generations in progress (freeing their sequences), closes the client of the node. */
    async dispose(): Promise<void> {
        if (this.disposedFlag) return;
        this.disposedFlag = true;
        for (const call of this.calls) call.cancel();
        const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
        this.server.closeAllConnections();
        await closed;
        await new Promise((r) => setImmediate(r)); // the cancels on their way before the channel closes
        this.client.close();
        for (const listener of this.disposeListeners) listener();
    }

    // ---- requests -------------------------------------------------------------------------------

    private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
        try {
            this.admit(req);
            const path = new URL(req.url ?? "/", "http://api").pathname.replace(/\/+$/, "");
            const method = req.method ?? "GET";
            if (path === "/v1/models") {
                allow(method, ["GET"]);
                return json(res, 200, modelList(this.model(), this.created(this.model())));
            }
            if (path.startsWith("/v1/models/")) {
                allow(method, ["GET"]);
                let id = path.slice("/v1/models/".length);
                try { id = decodeURIComponent(id); } catch { /* not percent-encoded: as it is */ }
                const model = this.model();
                if (model == null || !modelMatches(id, model.name))
                    throw new OpenAiError(404, `The model '${id}' does not exist here: ${model == null ? "no model is loaded in this cluster" : `this cluster runs '${model.name}'`}`, "invalid_request_error", "model", "model_not_found");
                return json(res, 200, modelObject(model, this.created(model)));
            }
            if (path === "/v1/chat/completions" || path === "/v1/completions") {
                allow(method, ["POST"]);
                const body = await this.readBody(req);
                const translated = path === "/v1/chat/completions" ? chatCompletionRequest(body) : completionRequest(body);
                return await this.generate(translated, res);
            }
            throw new OpenAiError(404, `Invalid URL (${method} ${path || "/"}): this Hearth API serves POST /v1/chat/completions, POST /v1/completions and GET /v1/models`, "invalid_request_error", null, "unknown_url");
        } catch (e) {
            const error = e instanceof OpenAiError ? e : new OpenAiError(500, `the API failed: ${(e as Error)?.message ?? String(e)}`);
            if (error.status === 500) this.options.log?.(`OpenAI API: ${error.message}`);
            if (!res.headersSent && !res.destroyed) json(res, error.status, error.body, error.status === 401 ? { "WWW-Authenticate": "Bearer" } : {});
        }
    }

    /** The checks before any route: the Host a browser page could fake (without a key), then the key. */
    private admit(req: http.IncomingMessage): void {
        if (this.keyHash == null) {
            // Without a key only this machine can connect; a web page could still reach it through a
            // name that resolves to 127.0.0.1 (DNS rebinding): such names are refused.
            const host = hostOfHeader(req.headers.host ?? "");
            if (host !== "" && net.isIP(host) === 0 && host !== "localhost" && !host.endsWith(".localhost"))
                throw new OpenAiError(403, `this API answers requests addressed to this machine's IP address or localhost, not '${host}' (or give it a key with --api-key)`, "invalid_request_error", null, "forbidden_host");
            return;
        }
        const header = req.headers.authorization ?? "";
        const m = /^Bearer\s+(.+)$/i.exec(header.trim());
        if (m == null)
            throw new OpenAiError(401, "You didn't provide an API key: this Hearth API needs the key it was started with (--api-key or $HEARTH_API_KEY), sent as 'Authorization: Bearer KEY' (the OpenAI client's apiKey)", "invalid_request_error", null, "invalid_api_key");
        if (!crypto.timingSafeEqual(hash(m[1]!.trim()), this.keyHash))
            throw new OpenAiError(401, "Incorrect API key provided: give the key this Hearth API was started with (--api-key or $HEARTH_API_KEY)", "invalid_request_error", null, "invalid_api_key");
    }

    /** The JSON body, at most maxBodyBytes (413 beyond). */
    private readBody(req: http.IncomingMessage): Promise<unknown> {
        const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
        // A web page may send these without asking first (no preflight): they are not JSON anyway.
        if (type !== "" && type !== "application/json")
            return Promise.reject(new OpenAiError(415, `the request body must be JSON (Content-Type: application/json), not ${type}`, "invalid_request_error", null, "unsupported_media_type"));
        const limit = this.maxBodyBytes;
        const tooLarge = () => new OpenAiError(413, `the request body is larger than this API accepts (${limit.toLocaleString("en-US")} bytes): send a shorter conversation`, "invalid_request_error", null, "request_too_large");
        const declared = Number(req.headers["content-length"] ?? NaN);
        if (declared > 4 * limit) {
            req.resume();
            return Promise.reject(tooLarge());
        }
        return new Promise((resolve, reject) => {
            const chunks: Buffer[] = [];
            let size = 0;
            req.on("data", (chunk: Buffer) => {
                size += chunk.length;
                if (size > limit) {
                    chunks.length = 0;
                    if (size > 4 * limit) { req.destroy(); reject(tooLarge()); } // read past it only so far, to answer a client that sends it all first
                } else chunks.push(chunk);
            });
            req.on("error", reject);
            req.on("end", () => {
                if (size > limit) { reject(tooLarge()); return; }
                try {
                    resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
                } catch (e) {
                    reject(new OpenAiError(400, `the request body is not valid JSON: ${(e as Error).message}`, "invalid_request_error", null, "invalid_json"));
                }
            });
        });
    }

    private model(): ClusterModel | null { return this.options.model(); }

    private created(model: ClusterModel | null): number {
        if (model == null) return 0;
        let at = this.seen.get(model.modelSha256);
        if (at == null) { at = Math.floor(Date.now() / 1000); this.seen.set(model.modelSha256, at); }
        return at;
    }

    /** Runs a (chat) completion through this node's Chat RPC and answers it, streamed or whole. */
    private generate(request: TranslatedRequest, res: http.ServerResponse): Promise<void> {
        const modelName = checkModel(request.model, this.model());
        if (this.disposedFlag) throw new OpenAiError(503, "this machine's node is stopping", "server_error", null, "cluster_unavailable");
        const chat = request.kind === "chat";
        const ctx: ResponseContext = { id: `${chat ? "chatcmpl" : "cmpl"}-${crypto.randomBytes(12).toString("hex")}`, created: Math.floor(Date.now() / 1000), model: modelName };
        const send = (data: unknown) => { res.write(`data: ${JSON.stringify(data)}\n\n`); };
        return new Promise<void>((resolve) => {
            const call = this.client.raw.chat(request.chat, new grpc.Metadata());
            this.calls.add(call);
            let ended = false;
            let opened = false;
            let result: ChatResult__Output | null = null;
            // The client went away (closed the connection, aborted the request): the generation stops on every stage.
            res.on("close", () => { if (!ended) call.cancel(); });
            const open = () => {
                if (opened) return;
                opened = true;
                res.writeHead(200, { "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache", Connection: "keep-alive", "X-Accel-Buffering": "no" });
                if (chat) send(chatCompletionChunk(ctx, { delta: { role: "assistant", content: "" } }, request.includeUsage));
            };
            call.on("data", (e: ChatEvent__Output) => {
                if (e.result != null) result = e.result;
                if (!request.stream || res.destroyed) return;
                if (e.delta != null) {
                    open();
                    if (e.delta.text !== "") send(chat ? chatCompletionChunk(ctx, { delta: { content: e.delta.text } }, request.includeUsage) : completionChunk(ctx, { text: e.delta.text }, request.includeUsage));
                }
            });
            const settle = (error: grpc.StatusObject | null) => {
                if (ended) return;
                ended = true;
                this.calls.delete(call);
                resolve();
                if (res.destroyed) return;
                const failure = error != null ? errorFromChatStatus(error.code, error.details || `status ${error.code}`, chat ? "messages" : "prompt")
                    : result == null ? new OpenAiError(500, "the reply ended without its result; try again") : null;
                if (failure != null) {
                    if (failure.status >= 500) this.options.log?.(`OpenAI API: ${failure.message}`);
                    if (!opened) json(res, failure.status, failure.body);
                    else { send(failure.body); res.end(); }
                    return;
                }
                const r = result!;
                if (!request.stream) { json(res, 200, chat ? chatCompletionResponse(ctx, r) : completionResponse(ctx, r)); return; }
                open();
                const finish = finishReason(r.stopReason);
                send(chat ? chatCompletionChunk(ctx, { delta: {}, finish }, request.includeUsage) : completionChunk(ctx, { text: "", finish }, request.includeUsage));
                if (request.includeUsage) send(chat ? chatCompletionChunk(ctx, { usage: usage(r) }, true) : completionChunk(ctx, { usage: usage(r) }, true));
                res.end("data: [DONE]\n\n");
            };
            // The call's status says how it ended ('end' and 'error' may come in either order); an OK
            // one is settled once every message has been read.
            let ok = false, drained = false;
            call.on("status", (status: grpc.StatusObject) => { if (status.code !== grpc.status.OK) settle(status); else { ok = true; if (drained) settle(null); } });
            call.on("end", () => { drained = true; if (ok) settle(null); });
            call.on("error", () => { /* its status follows */ });
        });
    }
}

function allow(method: string, allowed: readonly string[]): void {
    if (!allowed.includes(method)) throw new OpenAiError(405, `${method} is not allowed here: use ${allowed.join(" or ")}`, "invalid_request_error", null, "method_not_allowed");
}

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(text), ...headers });
    res.end(text);
}
