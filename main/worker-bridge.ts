// The worker's end of one window's bridge: BridgeRequest in, BridgeReply out, as JSON text over
// a MessagePort. The same rules as the web UI's WebSocket bridge (app/ui-api/web-ui.ts): one
// subscription per stream (a second subscribe is ignored), the state first and then every event
// as the service emits it (the chats stream's events are the token deltas: each goes out as it
// comes), and a malformed request closes the connection. Pure: no Electron (worker.ts wires it).
import {
    UiError, isUiMethod, isUiStream,
    type BridgeReply, type BridgeRequest, type HearthApi, type UiErrorInfo, type UiStreamName
} from "../app/ui-api/contract.ts";

export interface BridgeConnection {
    /** one message from the window (JSON text of a BridgeRequest) */
    receive(data: unknown): void;
    /** the window went away: every subscription ends, late results are dropped */
    close(): void;
    readonly closed: boolean;
    /** the streams this connection is subscribed to (for tests and logs) */
    readonly streams: readonly UiStreamName[];
}

export interface BridgeConnectionOptions {
    api: HearthApi;
    /** sends one reply to the window (JSON text); may throw once the port is gone */
    send: (text: string) => void;
    /** called once when the connection closes itself (a malformed request) or is closed */
    onClose?: (reason: string) => void;
    log?: (line: string) => void;
}

export function errorInfo(e: unknown): UiErrorInfo {
    if (e instanceof UiError) return { message: e.message, code: e.code };
    if (e instanceof Error) return { message: e.message, code: "failed" };
    return { message: String(e), code: "failed" };
}

export function openBridgeConnection(options: BridgeConnectionOptions): BridgeConnection {
    const subscriptions = new Map<UiStreamName, () => void>();
    let closed = false;

    const send = (reply: BridgeReply): void => {
        if (closed) return;
        let text: string;
        try {
            text = JSON.stringify(reply);
        } catch (e) {
            // A result that is not JSON is the engine's bug; the caller still gets an answer.
            if (reply.type === "result") send({ type: "error", id: reply.id, error: { message: `the reply could not be sent: ${(e as Error).message}`, code: "failed" } });
            else options.log?.(`bridge: a ${reply.type} reply could not be sent: ${(e as Error).message}`);
            return;
        }
        try {
            options.send(text);
        } catch (e) {
            close(`the port failed: ${(e as Error).message}`);
        }
    };

    const close = (reason: string): void => {
        if (closed) return;
        closed = true;
        for (const unsubscribe of subscriptions.values()) {
            try { unsubscribe(); } catch { /* the service is going away */ }
        }
        subscriptions.clear();
        options.onClose?.(reason);
    };

    const refuse = (why: string): void => {
        options.log?.(`bridge: ${why}; closing the connection`);
        close(why);
    };

    const receive = (data: unknown): void => {
        if (closed) return;
        let request: BridgeRequest;
        try {
            if (typeof data !== "string") throw new Error("not text");
            request = JSON.parse(data) as BridgeRequest;
            if (request == null || typeof request !== "object" || Array.isArray(request)) throw new Error("not an object");
        } catch {
            refuse("a message that is not a JSON bridge request");
            return;
        }
        switch (request.type) {
            case "invoke": {
                const id = request.id;
                if (typeof id !== "number" || !Number.isSafeInteger(id)) { refuse("an invoke without a numeric id"); return; }
                if (!isUiMethod(request.method)) {
                    send({ type: "error", id, error: { message: `unknown request '${String(request.method).slice(0, 60)}'`, code: "bad-request" } });
                    return;
                }
                let pending: Promise<unknown>;
                try {
                    pending = options.api.invoke(request.method, request.params as never);
                } catch (e) {
                    pending = Promise.reject(e);
                }
                pending.then(
                    (result) => send({ type: "result", id, result }),
                    (e: unknown) => send({ type: "error", id, error: errorInfo(e) }));
                return;
            }
            case "subscribe": {
                const stream = request.stream;
                if (!isUiStream(stream)) { refuse(`a subscribe to an unknown stream '${String(stream).slice(0, 60)}'`); return; }
                if (subscriptions.has(stream)) return;
                // Placeholder first: the service calls the listener with the state before subscribe returns.
                subscriptions.set(stream, () => {});
                let unsubscribe: () => void;
                try {
                    unsubscribe = options.api.subscribe(stream, (message) => {
                        if (message.kind === "state") send({ type: "state", stream, state: message.state });
                        else send({ type: "event", stream, event: message.event });
                    });
                } catch (e) {
                    subscriptions.delete(stream);
                    options.log?.(`bridge: subscribing to '${stream}' failed: ${errorInfo(e).message}`);
                    return;
                }
                if (closed) { unsubscribe(); return; }
                subscriptions.set(stream, unsubscribe);
                return;
            }
            case "unsubscribe": {
                const stream = request.stream;
                if (!isUiStream(stream)) { refuse(`an unsubscribe from an unknown stream '${String(stream).slice(0, 60)}'`); return; }
                subscriptions.get(stream)?.();
                subscriptions.delete(stream);
                return;
            }
            default:
                refuse(`an unknown bridge request '${String((request as { type?: unknown }).type).slice(0, 60)}'`);
        }
    };

    return {
        receive,
        close: () => close("closed"),
        get closed() { return closed; },
        get streams() { return [...subscriptions.keys()]; }
    };
}
