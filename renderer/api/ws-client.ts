// The HearthApi over a WebSocket, for the web UI a headless node serves: the contract's
// BridgeRequest/BridgeReply as JSON text frames on `ws(s)://<host>/api?token=…`. It reconnects
// by itself (with backoff), subscribes again to every stream it had on each new connection (the
// server then sends each stream's state again, and the listeners start over from it), and says how
// the connection stands so the UI can show it.
import {
    applyUiEvent, UiError,
    type BridgeReply, type BridgeRequest, type HearthApi, type UiMethod, type UiParams, type UiResult,
    type UiStreamMessage, type UiStreamName, type UiStreamState, type UiStreamEvent
} from "../../app/ui-api/contract.ts";

/** The part of the WebSocket API this client uses: the browser's WebSocket and the `ws` package's both have it. */
export interface WebSocketLike {
    readonly readyState: number;
    send(data: string): void;
    close(code?: number, reason?: string): void;
    addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
    addEventListener(type: "open" | "close" | "error", listener: () => void): void;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** "connecting": not connected yet (none has opened so far); "open"; "lost": it was open and is reconnecting. */
export type ConnectionStatus = "connecting" | "open" | "lost";

export interface ConnectionInfo {
    status: ConnectionStatus;
    /** connection attempts that failed since the last one that opened (0 while open) */
    failedAttempts: number;
    /** when the next attempt starts (Date.now()); null while connecting or open */
    nextAttemptAtMs: number | null;
}

export interface WsClientOptions {
    /** ws(s)://host/api?token=… */
    url: string;
    /** Defaults to `globalThis.WebSocket`. */
    WebSocket?: WebSocketConstructor;
    /** The first reconnect's delay. Defaults to 500 ms. */
    initialRetryMs?: number;
    /** The longest delay between attempts (it doubles up to this). Defaults to 8000 ms. */
    maxRetryMs?: number;
    /** How long a request waits for a connection before it fails. Defaults to 15000 ms. */
    requestTimeoutMs?: number;
}

export interface WsClient extends HearthApi {
    readonly connection: ConnectionInfo;
    /** Calls `listener` at once with the connection, then on every change; returns the unsubscribe function. */
    onConnection(listener: (info: ConnectionInfo) => void): () => void;
    /** Try now instead of waiting for the backoff. */
    reconnectNow(): void;
    /** Close for good: no more reconnects; pending requests fail. */
    close(): void;
}

const OPEN = 1;

interface PendingRequest {
    message: BridgeRequest;
    sent: boolean;
    resolve(value: unknown): void;
    reject(error: Error): void;
    timer: ReturnType<typeof setTimeout> | null;
}

interface StreamEntry {
    listeners: Set<(message: UiStreamMessage<UiStreamName>) => void>;
    /** the stream's state folded with the events since; undefined until the server sent it */
    state: { value: unknown } | undefined;
}

export function createWsClient(options: WsClientOptions): WsClient {
    const WS = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (WS === undefined) throw new Error("this runtime has no WebSocket; pass one as the WebSocket option");
    const initialRetryMs = options.initialRetryMs ?? 500;
    const maxRetryMs = options.maxRetryMs ?? 8000;
    const requestTimeoutMs = options.requestTimeoutMs ?? 15_000;

    let socket: WebSocketLike | null = null;
    let info: ConnectionInfo = { status: "connecting", failedAttempts: 0, nextAttemptAtMs: null };
    let retryTimer: ReturnType<typeof setTimeout> | null = null;
    let closed = false;
    let nextId = 1;
    const pending = new Map<number, PendingRequest>();
    const streams = new Map<UiStreamName, StreamEntry>();
    const connectionListeners = new Set<(info: ConnectionInfo) => void>();

    const setInfo = (next: ConnectionInfo) => {
        info = next;
        for (const listener of [...connectionListeners]) {
            try { listener(info); } catch (error) { reportListenerError(error); }
        }
    };

    const isOpen = () => socket !== null && socket.readyState === OPEN && info.status === "open";

    const send = (message: BridgeRequest): boolean => {
        if (!isOpen()) return false;
        try {
            socket!.send(JSON.stringify(message));
            return true;
        } catch {
            return false;
        }
    };

    const deliver = (entry: StreamEntry, message: UiStreamMessage<UiStreamName>) => {
        for (const listener of [...entry.listeners]) {
            try { listener(message); } catch (error) { reportListenerError(error); }
        }
    };

    const onReply = (reply: BridgeReply) => {
        switch (reply.type) {
            case "result": {
                const request = pending.get(reply.id);
                if (request === undefined) return;
                pending.delete(reply.id);
                request.resolve(reply.result);
                return;
            }
            case "error": {
                const request = pending.get(reply.id);
                if (request === undefined) return;
                pending.delete(reply.id);
                const error = reply.error ?? { message: "the node could not do that", code: "failed" };
                request.reject(new UiError(String(error.message), String(error.code ?? "failed")));
                return;
            }
            case "state": {
                const entry = streams.get(reply.stream);
                if (entry === undefined) return;
                entry.state = { value: reply.state };
                deliver(entry, { kind: "state", state: reply.state as UiStreamState<UiStreamName> });
                return;
            }
            case "event": {
                const entry = streams.get(reply.stream);
                if (entry === undefined) return;
                // Folded here too, so that a listener that subscribes later starts from the state now.
                if (entry.state !== undefined) {
                    entry.state = { value: applyUiEvent(reply.stream, entry.state.value as UiStreamState<UiStreamName>, reply.event as UiStreamEvent<UiStreamName>) };
                }
                deliver(entry, { kind: "event", event: reply.event as UiStreamEvent<UiStreamName> });
                return;
            }
            default:
                return;
        }
    };

    const connect = () => {
        retryTimer = null;
        if (closed) return;
        if (info.nextAttemptAtMs !== null) setInfo({ ...info, nextAttemptAtMs: null });
        let ws: WebSocketLike;
        try {
            ws = new WS(options.url);
        } catch {
            scheduleRetry();
            return;
        }
        socket = ws;
        ws.addEventListener("open", () => {
            if (socket !== ws || closed) return;
            setInfo({ status: "open", failedAttempts: 0, nextAttemptAtMs: null });
            // Every stream again: the server answers each with its state, which replaces what we had.
            for (const stream of streams.keys()) send({ type: "subscribe", stream });
            for (const request of pending.values()) {
                if (request.sent) continue;
                if (request.timer !== null) clearTimeout(request.timer);
                request.timer = null;
                request.sent = send(request.message);
            }
        });
        ws.addEventListener("message", (event) => {
            if (socket !== ws) return;
            const text = typeof event.data === "string" ? event.data : String(event.data ?? "");
            let reply: BridgeReply;
            try {
                reply = JSON.parse(text) as BridgeReply;
            } catch {
                return; // not a message of the bridge
            }
            if (reply !== null && typeof reply === "object") onReply(reply);
        });
        ws.addEventListener("close", () => {
            if (socket !== ws) return;
            socket = null;
            // Requests sent on this connection cannot be answered any more.
            for (const [id, request] of pending) {
                if (!request.sent) continue;
                pending.delete(id);
                request.reject(new UiError("The connection to this machine's node was lost before it answered. Check whether it happened, then try again once the connection is back.", "not-ready"));
            }
            if (closed) return;
            const wasOpen = info.status === "open";
            info = { status: wasOpen || info.status === "lost" ? "lost" : "connecting", failedAttempts: wasOpen ? 0 : info.failedAttempts + 1, nextAttemptAtMs: null };
            scheduleRetry(wasOpen);
        });
        ws.addEventListener("error", () => {
            // A close event follows; that is where this is handled.
        });
    };

    const scheduleRetry = (justLost = false) => {
        if (closed) return;
        // Right after losing a working connection, try again soon; after failed attempts, back off.
        const n = justLost ? 0 : Math.max(0, info.failedAttempts - 1);
        const base = Math.min(maxRetryMs, initialRetryMs * 2 ** n);
        const delay = Math.round(base * (0.85 + Math.random() * 0.3));
        if (retryTimer !== null) clearTimeout(retryTimer);
        retryTimer = setTimeout(connect, delay);
        setInfo({ ...info, nextAttemptAtMs: Date.now() + delay });
    };

    connect();

    const client: WsClient = {
        get connection() { return info; },

        invoke<M extends UiMethod>(method: M, params: UiParams<M>): Promise<UiResult<M>> {
            return new Promise<UiResult<M>>((resolve, reject) => {
                if (closed) {
                    reject(new UiError("The connection to this machine's node is closed; reload the page.", "not-ready"));
                    return;
                }
                const id = nextId++;
                const request: PendingRequest = {
                    message: { type: "invoke", id, method, params }, sent: false,
                    resolve: resolve as (value: unknown) => void, reject, timer: null
                };
                pending.set(id, request);
                request.sent = send(request.message);
                if (!request.sent) {
                    request.timer = setTimeout(() => {
                        if (pending.get(id) !== request || request.sent) return;
                        pending.delete(id);
                        reject(new UiError("This machine's node cannot be reached right now. Try again once the connection is back.", "not-ready"));
                    }, requestTimeoutMs);
                }
            });
        },

        subscribe<S extends UiStreamName>(stream: S, listener: (message: UiStreamMessage<S>) => void): () => void {
            let entry = streams.get(stream);
            const first = entry === undefined;
            if (entry === undefined) {
                entry = { listeners: new Set(), state: undefined };
                streams.set(stream, entry);
            }
            const l = listener as unknown as (message: UiStreamMessage<UiStreamName>) => void;
            entry.listeners.add(l);
            if (first) send({ type: "subscribe", stream });
            else if (entry.state !== undefined) l({ kind: "state", state: entry.state.value as UiStreamState<UiStreamName> });
            let subscribed = true;
            return () => {
                if (!subscribed) return;
                subscribed = false;
                const current = streams.get(stream);
                if (current === undefined) return;
                current.listeners.delete(l);
                if (current.listeners.size === 0) {
                    streams.delete(stream);
                    send({ type: "unsubscribe", stream });
                }
            };
        },

        onConnection(listener) {
            connectionListeners.add(listener);
            listener(info);
            return () => { connectionListeners.delete(listener); };
        },

        reconnectNow() {
            if (closed || socket !== null) return;
            if (retryTimer !== null) clearTimeout(retryTimer);
            connect();
        },

        close() {
            if (closed) return;
            closed = true;
            if (retryTimer !== null) clearTimeout(retryTimer);
            retryTimer = null;
            const ws = socket;
            socket = null;
            try { ws?.close(1000, "closed"); } catch { /* already closing */ }
            for (const request of pending.values()) {
                if (request.timer !== null) clearTimeout(request.timer);
                request.reject(new UiError("The connection to this machine's node is closed.", "not-ready"));
            }
            pending.clear();
            streams.clear();
        }
    };
    return client;
}

function reportListenerError(error: unknown): void {
    // A listener that throws must not stop the others, nor the connection.
    setTimeout(() => { throw error; }, 0);
}
