// The renderer's side of the bridge, as the preload runs it: HearthApi over one MessagePort to the
// node's worker (JSON text, BridgeRequest out, BridgeReply in). Pure: the preload hands it a
// `send` function per port and feeds it what arrives; tests do the same.
//
// - Only the contract's methods and streams pass (UI_METHODS, UI_STREAMS); anything else is
//   refused here and never reaches the worker.
// - Many listeners of one stream share one subscription; the client keeps the stream's state
//   (folded with the contract's applyUiEvent), so a late listener gets the state at once.
// - The port can change: when the node restarts, main hands a new one. Requests in flight on the
//   old one fail (they may or may not have happened); subscriptions are made again on the new
//   one, and every listener gets the new state (a second "state" message), then events.
// - While the node is down, main says so (NodeDown): the app stream shows its phase and message;
//   requests wait while it starts and fail at once while it is failed.
import {
    UiError, applyUiEvent, isUiMethod, isUiStream,
    type AppState, type BridgeReply, type BridgeRequest, type HearthApi, type UiErrorInfo, type UiMethod, type UiParams,
    type UiResult, type UiStreamMessage, type UiStreamName
} from "../app/ui-api/contract.ts";
import type { NodeDown } from "./worker-protocol.ts";

/** Why a request may not pass, or null when it may: a method outside the contract, or params that are not an object. */
export function refuseInvoke(method: unknown, params: unknown): UiErrorInfo | null {
    if (!isUiMethod(method)) return { message: `'${String(method).slice(0, 60)}' is not a request Hearth knows`, code: "bad-request" };
    if (params !== undefined && (params === null || typeof params !== "object" || Array.isArray(params))) {
        return { message: `the params of '${method}' must be an object`, code: "bad-request" };
    }
    return null;
}

/** Why a stream may not be subscribed to, or null when it may. */
export function refuseStream(stream: unknown): UiErrorInfo | null {
    if (!isUiStream(stream)) return { message: `'${String(stream).slice(0, 60)}' is not a stream Hearth has`, code: "bad-request" };
    return null;
}

type AnyMessage = UiStreamMessage<UiStreamName>;

interface Subscriber {
    listener: (message: AnyMessage) => void;
    /** it got a state (events reach only those that did) */
    hasState: boolean;
}

interface StreamEntry {
    subscribers: Set<Subscriber>;
    hasState: boolean;
    state: unknown;
}

interface Pending {
    resolve: (value: unknown) => void;
    reject: (error: UiError) => void;
}

interface Queued extends Pending {
    method: UiMethod;
    params: unknown;
}

export interface BridgeClientOptions {
    log?: (line: string) => void;
}

export class BridgeClient implements HearthApi {
    private link: ((text: string) => void) | null = null;
    private nextId = 1;
    private readonly pending = new Map<number, Pending>();
    private queued: Queued[] = [];
    private readonly streams = new Map<UiStreamName, StreamEntry>();
    private down: NodeDown | null = null;
    /** the last app state seen (from the node, or made up while it was down) */
    private lastApp: AppState | null = null;

    constructor(private readonly options: BridgeClientOptions = {}) {}

    get connected(): boolean { return this.link != null; }
    /** requests sent and not yet answered, and requests waiting for the node (for tests) */
    get inFlight(): { sent: number; waiting: number } { return { sent: this.pending.size, waiting: this.queued.length }; }

    invoke<M extends UiMethod>(method: M, params: UiParams<M>): Promise<UiResult<M>> {
        const refusal = refuseInvoke(method, params);
        if (refusal != null) return Promise.reject(new UiError(refusal.message, refusal.code));
        const p = params === undefined ? {} : params;
        try {
            JSON.stringify(p);
        } catch (e) {
            return Promise.reject(new UiError(`the params of '${method}' are not JSON: ${(e as Error).message}`, "bad-request"));
        }
        return new Promise<UiResult<M>>((resolve, reject) => {
            const entry: Queued = { method, params: p, resolve: resolve as (value: unknown) => void, reject };
            if (this.link != null) this.sendInvoke(entry);
            else if (this.down != null && this.down.phase === "failed") reject(new UiError(this.down.message, "not-ready"));
            else this.queued.push(entry);
        });
    }

    subscribe<S extends UiStreamName>(stream: S, listener: (message: UiStreamMessage<S>) => void): () => void {
        const refusal = refuseStream(stream);
        if (refusal != null) throw new UiError(refusal.message, refusal.code);
        if (typeof listener !== "function") throw new UiError(`subscribe('${stream}') needs a listener function`, "bad-request");
        let entry = this.streams.get(stream);
        const isNew = entry == null;
        if (entry == null) {
            entry = { subscribers: new Set(), hasState: false, state: undefined };
            this.streams.set(stream, entry);
            if (stream === "app" && this.down != null) {
                entry.state = this.downApp(this.down);
                entry.hasState = true;
            }
        }
        const subscriber: Subscriber = { listener: listener as (message: AnyMessage) => void, hasState: false };
        entry.subscribers.add(subscriber);
        if (isNew && this.link != null) this.send({ type: "subscribe", stream });
        if (entry.hasState) {
            subscriber.hasState = true;
            this.call(subscriber, { kind: "state", state: entry.state } as AnyMessage);
        }
        let done = false;
        return () => {
            if (done) return;
            done = true;
            const current = this.streams.get(stream);
            if (current == null || !current.subscribers.delete(subscriber)) return;
            if (current.subscribers.size > 0) return;
            this.streams.delete(stream);
            if (this.link != null) this.send({ type: "unsubscribe", stream });
        };
    }

    /** A new port to the node: subscriptions are made on it, and waiting requests go out. */
    attach(send: (text: string) => void): void {
        if (this.link != null) this.detach({ message: "the connection to Hearth's node was replaced; try again", code: "not-ready" });
        this.link = send;
        this.down = null;
        for (const stream of this.streams.keys()) this.send({ type: "subscribe", stream });
        const waiting = this.queued;
        this.queued = [];
        for (const entry of waiting) this.sendInvoke(entry);
    }

    /** The port is gone: requests sent on it fail with `reason`; subscriptions wait for the next port. */
    detach(reason: UiErrorInfo): void {
        this.link = null;
        const pending = [...this.pending.values()];
        this.pending.clear();
        for (const p of pending) p.reject(new UiError(reason.message, reason.code));
    }

    /** Main says the node is not running (starting, or failed). */
    nodeDown(status: NodeDown): void {
        if (this.link != null) this.detach({ message: status.message || "Hearth's node stopped", code: "not-ready" });
        this.down = status;
        if (status.phase === "failed") {
            const waiting = this.queued;
            this.queued = [];
            for (const q of waiting) q.reject(new UiError(status.message, "not-ready"));
        }
        const app = this.downApp(status);
        this.lastApp = app;
        const entry = this.streams.get("app");
        if (entry == null) return;
        entry.state = app;
        entry.hasState = true;
        for (const s of [...entry.subscribers]) {
            if (s.hasState) this.call(s, { kind: "event", event: { type: "changed", state: app } });
            else {
                s.hasState = true;
                this.call(s, { kind: "state", state: app });
            }
        }
    }

    /** One message from the port (JSON text of a BridgeReply). */
    receive(data: unknown): void {
        let reply: BridgeReply;
        try {
            if (typeof data !== "string") throw new Error("not text");
            reply = JSON.parse(data) as BridgeReply;
            if (reply == null || typeof reply !== "object") throw new Error("not an object");
        } catch {
            this.options.log?.("hearth bridge: a message from the node that is not a JSON bridge reply was dropped");
            return;
        }
        switch (reply.type) {
            case "result": {
                const p = this.pending.get(reply.id);
                if (p == null) return;
                this.pending.delete(reply.id);
                p.resolve(reply.result);
                return;
            }
            case "error": {
                const p = this.pending.get(reply.id);
                if (p == null) return;
                this.pending.delete(reply.id);
                const info = reply.error ?? { message: "the request failed", code: "failed" };
                p.reject(new UiError(String(info.message), typeof info.code === "string" ? info.code : "failed"));
                return;
            }
            case "state": {
                if (!isUiStream(reply.stream)) return;
                const entry = this.streams.get(reply.stream);
                if (entry == null) return;
                entry.state = reply.state;
                entry.hasState = true;
                if (reply.stream === "app") this.lastApp = reply.state as AppState;
                for (const s of [...entry.subscribers]) {
                    s.hasState = true;
                    this.call(s, { kind: "state", state: reply.state } as AnyMessage);
                }
                return;
            }
            case "event": {
                if (!isUiStream(reply.stream)) return;
                const stream = reply.stream;
                const entry = this.streams.get(stream);
                if (entry == null || !entry.hasState) return;
                entry.state = applyUiEvent(stream, entry.state as never, reply.event as never);
                if (stream === "app") this.lastApp = entry.state as AppState;
                for (const s of [...entry.subscribers]) {
                    if (s.hasState) this.call(s, { kind: "event", event: reply.event } as AnyMessage);
                }
                return;
            }
            default:
                this.options.log?.("hearth bridge: an unknown reply from the node was dropped");
        }
    }

    private downApp(status: NodeDown): AppState {
        const base = this.lastApp ?? status.fallback;
        return { ...base, phase: status.phase, message: status.message, address: null };
    }

    private sendInvoke(entry: Queued): void {
        const id = this.nextId++;
        this.pending.set(id, { resolve: entry.resolve, reject: entry.reject });
        if (!this.send({ type: "invoke", id, method: entry.method, params: entry.params })) {
            this.pending.delete(id);
            entry.reject(new UiError("the request could not reach Hearth's node; try again", "not-ready"));
        }
    }

    private send(request: BridgeRequest): boolean {
        const link = this.link;
        if (link == null) return false;
        try {
            link(JSON.stringify(request));
            return true;
        } catch (e) {
            this.options.log?.(`hearth bridge: sending to the node failed: ${(e as Error).message}`);
            return false;
        }
    }

    private call(subscriber: Subscriber, message: AnyMessage): void {
        try {
            subscriber.listener(message);
        } catch (e) {
            this.options.log?.(`hearth bridge: a listener threw: ${(e as Error)?.message ?? String(e)}`);
        }
    }
}
