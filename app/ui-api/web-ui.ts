// The web UI for headless machines: the renderer's files over HTTP and the UI contract over a
// WebSocket (`/api`), both served from one port. On 127.0.0.1 (the default) anyone on this machine
// may use it; bound to another address it requires the login token printed at start (`?token=` on
// the first page load, then an HttpOnly cookie): requests without it get 401. A WebSocket from a
// page of another origin is refused (a web page the user visits must not drive the node).
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { WebSocketServer, type WebSocket } from "ws";
import { formatHostPort } from "../cluster/host-port.ts";
import {
    UiError, isUiMethod, isUiStream,
    type BridgeReply, type BridgeRequest, type HearthApi, type UiStreamName
} from "./contract.ts";

export interface WebUiOptions {
    api: HearthApi;
    /** the folder with the built renderer (index.html, app.js, app.css) */
    rendererDir: string;
    /** Defaults to 127.0.0.1 */
    host?: string;
    /** 0: any free port */
    port: number;
    /** the login token; defaults to a random one when `host` is not a loopback address, none otherwise */
    token?: string | null;
    /** the largest WebSocket message a client may send. Defaults to 1 MiB */
    maxMessageBytes?: number;
    /** a client whose unsent data passes this is disconnected (it stopped reading). Defaults to 32 MiB */
    maxBufferedBytes?: number;
    log?: (line: string) => void;
}

/** The Content-Security-Policy of every page: nothing but this server's own scripts, styles and socket. */
export const WEB_UI_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

const TYPES: Record<string, string> = {
    ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".map": "application/json",
    ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon", ".woff2": "font/woff2", ".json": "application/json"
};
const COOKIE = "hearth_token";

export function isLoopback(host: string): boolean {
    return host === "127.0.0.1" || host === "::1" || host === "localhost" || /^127\./.test(host);
}

export class WebUi {
    private readonly server: http.Server;
    private readonly sockets: WebSocketServer;
    readonly token: string | null;
    private portNumber = 0;
    private disposedFlag = false;
    private readonly disposeListeners = new Set<() => void>();

    private constructor(private readonly options: WebUiOptions) {
        const host = options.host ?? "127.0.0.1";
        this.token = options.token !== undefined ? options.token : isLoopback(host) ? null : crypto.randomBytes(18).toString("base64url");
        this.server = http.createServer((req, res) => this.serve(req, res));
        this.sockets = new WebSocketServer({ noServer: true, maxPayload: options.maxMessageBytes ?? 1024 * 1024 });
        this.server.on("upgrade", (req, socket, head) => {
            const refusal = this.refuseUpgrade(req);
            if (refusal != null) {
                socket.end(`HTTP/1.1 ${refusal}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
                return;
            }
            this.sockets.handleUpgrade(req, socket, head, (ws) => this.connected(ws));
        });
    }

    static async start(options: WebUiOptions): Promise<WebUi> {
        const ui = new WebUi(options);
        const host = options.host ?? "127.0.0.1";
        await new Promise<void>((resolve, reject) => {
            ui.server.once("error", (e: NodeJS.ErrnoException) => reject(new Error(`cannot serve the web UI on ${host}:${options.port} (${e.code ?? e.message}): another program may use the port — choose another with --web PORT`)));
            ui.server.listen(options.port, host, () => resolve());
        });
        const address = ui.server.address();
        ui.portNumber = typeof address === "object" && address != null ? address.port : options.port;
        return ui;
    }

    get port(): number { return this.portNumber; }
    get disposed(): boolean { return this.disposedFlag; }
    onDispose(listener: () => void): () => void { this.disposeListeners.add(listener); return () => this.disposeListeners.delete(listener); }

    /** The address to open (with the token, when one is required). */
    get url(): string {
        const host = this.options.host ?? "127.0.0.1";
        const shown = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
        return `http://${formatHostPort({ host: shown, port: this.portNumber })}/${this.token == null ? "" : `?token=${this.token}`}`;
    }

    async dispose(): Promise<void> {
        if (this.disposedFlag) return;
        this.disposedFlag = true;
        for (const ws of this.sockets.clients) ws.terminate();
        await new Promise<void>((resolve) => this.sockets.close(() => resolve()));
        await new Promise<void>((resolve) => { this.server.close(() => resolve()); this.server.closeAllConnections(); });
        for (const listener of this.disposeListeners) listener();
    }

    // ---- HTTP -------------------------------------------------------------------------------------

    /**
     * Whether the request carries the token (query or cookie), when one is required. Without a
     * token (bound to loopback) the request must name a loopback host: a page of another site that
     * resolves its own name to 127.0.0.1 (DNS rebinding) names that site, and is refused.
     */
    private authorized(req: http.IncomingMessage): { ok: boolean; viaQuery: boolean } {
        if (this.token == null) return { ok: loopbackHostHeader(req.headers.host), viaQuery: false };
        const url = new URL(req.url ?? "/", "http://x");
        const query = url.searchParams.get("token");
        if (query != null && safeEqual(query, this.token)) return { ok: true, viaQuery: true };
        const cookie = (req.headers.cookie ?? "").split(";").map((c) => c.trim()).find((c) => c.startsWith(`${COOKIE}=`))?.slice(COOKIE.length + 1);
        return { ok: cookie != null && safeEqual(cookie, this.token), viaQuery: false };
    }

    private serve(req: http.IncomingMessage, res: http.ServerResponse): void {
        const headers: http.OutgoingHttpHeaders = {
            "Content-Security-Policy": WEB_UI_CSP, "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"
        };
        if (req.method !== "GET" && req.method !== "HEAD") { res.writeHead(405, { ...headers, Allow: "GET, HEAD" }).end(); return; }
        const auth = this.authorized(req);
        if (!auth.ok && this.token == null) {
            res.writeHead(403, { ...headers, "Content-Type": "text/plain; charset=utf-8" })
                .end("This Hearth web UI answers only at 127.0.0.1 or localhost: open the address the node printed when it started.\n");
            return;
        }
        if (!auth.ok) {
            res.writeHead(401, { ...headers, "Content-Type": "text/plain; charset=utf-8" })
                .end("This Hearth web UI needs its login token: open the address the node printed when it started (it ends in ?token=…).\n");
            return;
        }
        if (auth.viaQuery) headers["Set-Cookie"] = `${COOKIE}=${this.token}; HttpOnly; SameSite=Strict; Path=/`;
        const url = new URL(req.url ?? "/", "http://x");
        let rel: string;
        try {
            rel = decodeURIComponent(url.pathname);
        } catch {
            res.writeHead(400, headers).end();
            return;
        }
        if (rel === "/" || rel === "") rel = "/index.html";
        const root = path.resolve(this.options.rendererDir);
        const file = path.resolve(root, `.${rel}`);
        if (!file.startsWith(root + path.sep) || rel.includes("\0")) { res.writeHead(404, headers).end(); return; }
        fs.stat(file, (e, stat) => {
            if (e != null || !stat.isFile()) {
                res.writeHead(404, { ...headers, "Content-Type": "text/plain; charset=utf-8" }).end(`${rel} is not part of the web UI\n`);
                return;
            }
            res.writeHead(200, { ...headers, "Content-Type": TYPES[path.extname(file)] ?? "application/octet-stream", "Content-Length": stat.size });
            if (req.method === "HEAD") { res.end(); return; }
            fs.createReadStream(file).on("error", () => res.destroy()).pipe(res);
        });
    }

    private refuseUpgrade(req: http.IncomingMessage): string | null {
        const url = new URL(req.url ?? "/", "http://x");
        if (url.pathname !== "/api") return "404 Not Found";
        // Only this server's own pages: a browser sends the page's origin with every WebSocket.
        // ("null" is a sandboxed frame or a file:// page: never this server's own.)
        const origin = req.headers.origin;
        if (origin != null) {
            let originHost: string;
            try { originHost = new URL(origin).host; } catch { return "403 Forbidden"; }
            if (origin === "null" || originHost !== req.headers.host) return "403 Forbidden";
        }
        if (!this.authorized(req).ok) return this.token == null ? "403 Forbidden" : "401 Unauthorized";
        return null;
    }

    // ---- the contract over a WebSocket ------------------------------------------------------------

    private connected(ws: WebSocket): void {
        const subscriptions = new Map<UiStreamName, () => void>();
        const maxBuffered = this.options.maxBufferedBytes ?? 32 * 1024 * 1024;
        const send = (reply: BridgeReply) => {
            if (ws.readyState !== ws.OPEN) return;
            if (ws.bufferedAmount > maxBuffered) { ws.terminate(); return; }
            ws.send(JSON.stringify(reply));
        };
        ws.on("message", (data, isBinary) => {
            let request: BridgeRequest;
            try {
                if (isBinary) throw new Error("binary");
                request = JSON.parse(data.toString()) as BridgeRequest;
                if (request == null || typeof request !== "object") throw new Error("not an object");
            } catch {
                ws.close(1003, "messages are JSON bridge requests");
                return;
            }
            if (request.type === "invoke") {
                const id = request.id;
                if (typeof id !== "number" || !Number.isSafeInteger(id)) { ws.close(1008, "an invoke needs a numeric id"); return; }
                if (!isUiMethod(request.method)) { send({ type: "error", id, error: { message: `unknown request '${String(request.method).slice(0, 60)}'`, code: "bad-request" } }); return; }
                this.options.api.invoke(request.method, request.params as never).then(
                    (result) => send({ type: "result", id, result }),
                    (e: unknown) => send({ type: "error", id, error: { message: e instanceof Error ? e.message : String(e), code: e instanceof UiError ? e.code : "failed" } }));
            } else if (request.type === "subscribe" && isUiStream(request.stream)) {
                const stream = request.stream;
                if (subscriptions.has(stream)) return;
                subscriptions.set(stream, this.options.api.subscribe(stream, (message) => {
                    if (message.kind === "state") send({ type: "state", stream, state: message.state });
                    else send({ type: "event", stream, event: message.event });
                }));
            } else if (request.type === "unsubscribe" && isUiStream(request.stream)) {
                subscriptions.get(request.stream)?.();
                subscriptions.delete(request.stream);
            } else {
                ws.close(1008, "unknown bridge request");
            }
        });
        ws.on("close", () => {
            for (const unsubscribe of subscriptions.values()) unsubscribe();
            subscriptions.clear();
        });
        ws.on("error", () => ws.terminate());
    }
}

/** Whether a Host header names this machine's loopback (127.x, localhost, [::1]), with any port. */
export function loopbackHostHeader(host: string | undefined): boolean {
    if (host == null) return false;
    const name = host.startsWith("[") ? host.slice(1, host.indexOf("]")) : host.replace(/:\d+$/, "");
    return isLoopback(name.toLowerCase());
}

function safeEqual(a: string, b: string): boolean {
    const x = Buffer.from(a);
    const y = Buffer.from(b);
    return x.length === y.length && crypto.timingSafeEqual(x, y);
}
