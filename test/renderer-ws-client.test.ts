// The web UI's WebSocket client against a real WebSocket server (the `ws` package): requests and
// their answers, streams (state first, then events), the login token in the URL, and reconnecting
// with every stream subscribed again.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import type { AddressInfo } from "node:net";
import { WebSocket, WebSocketServer, type WebSocket as ServerSocket } from "ws";
import { UiError, type BridgeReply, type BridgeRequest, type ChatsState } from "../app/ui-api/contract.ts";
import { createWsClient, type ConnectionInfo, type WsClient } from "../renderer/api/ws-client.ts";
import { bridgeUrl, takeLoginToken, TOKEN_STORAGE_KEY } from "../renderer/api/token.ts";

/** A bridge server the test drives: it records what clients send and answers as told. */
class TestBridge {
    readonly server: WebSocketServer;
    readonly received: BridgeRequest[] = [];
    readonly urls: string[] = [];
    sockets: ServerSocket[] = [];
    onRequest: (request: BridgeRequest, socket: ServerSocket) => void = () => {};
    private waiters: { test: () => boolean; resolve: () => void }[] = [];

    constructor() {
        this.server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
        this.server.on("connection", (socket, request) => {
            this.sockets.push(socket);
            this.urls.push(request.url ?? "");
            socket.on("message", (data) => {
                const message = JSON.parse(String(data)) as BridgeRequest;
                this.received.push(message);
                this.onRequest(message, socket);
                this.check();
            });
            socket.on("close", () => { this.sockets = this.sockets.filter((s) => s !== socket); this.check(); });
            this.check();
        });
    }

    get port(): number { return (this.server.address() as AddressInfo).port; }
    get url(): string { return `ws://127.0.0.1:${this.port}/api?token=secret`; }

    send(socket: ServerSocket, reply: BridgeReply): void { socket.send(JSON.stringify(reply)); }
    broadcast(reply: BridgeReply): void { for (const s of this.sockets) this.send(s, reply); }

    /** Resolves once `test` holds (checked on every message and connection). */
    until(test: () => boolean, what: string, timeoutMs = 4000): Promise<void> {
        if (test()) return Promise.resolve();
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
            this.waiters.push({ test, resolve: () => { clearTimeout(timer); resolve(); } });
        });
    }

    check(): void {
        this.waiters = this.waiters.filter((w) => { if (w.test()) { w.resolve(); return false; } return true; });
    }

    close(): Promise<void> {
        for (const s of this.server.clients) s.terminate();
        return new Promise((resolve) => this.server.close(() => resolve()));
    }
}

const bridges: TestBridge[] = [];
const clients: WsClient[] = [];
after(async () => {
    for (const c of clients) c.close();
    await Promise.all(bridges.map((b) => b.close()));
});

async function bridge(): Promise<TestBridge> {
    const b = new TestBridge();
    bridges.push(b);
    await new Promise<void>((resolve) => b.server.once("listening", () => resolve()));
    return b;
}

function client(url: string, options: { initialRetryMs?: number; requestTimeoutMs?: number } = {}): WsClient {
    const c = createWsClient({ url, WebSocket, initialRetryMs: 20, maxRetryMs: 100, ...options });
    clients.push(c);
    return c;
}

function waitFor(test: () => boolean, what: string, timeoutMs = 4000): Promise<void> {
    return new Promise((resolve, reject) => {
        const started = Date.now();
        const tick = () => {
            if (test()) return resolve();
            if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
            setTimeout(tick, 5);
        };
        tick();
    });
}

test("invoke sends the contract's invoke message and resolves with the result, or rejects with a UiError", { timeout: 10000 }, async () => {
    const b = await bridge();
    b.onRequest = (r, socket) => {
        if (r.type !== "invoke") return;
        if (r.method === "chat.create") b.send(socket, { type: "result", id: r.id, result: { id: "c1", title: (r.params as { title: string }).title, createdAtMs: 1, updatedAtMs: 1, messages: [] } });
        else b.send(socket, { type: "error", id: r.id, error: { message: "Open a model first.", code: "not-ready" } });
    };
    const c = client(b.url);
    const chat = await c.invoke("chat.create", { title: "Plans" });
    assert.equal(chat.id, "c1");
    assert.equal(chat.title, "Plans");
    const sent = b.received.find((r) => r.type === "invoke");
    assert.deepEqual(sent, { type: "invoke", id: (sent as { id: number }).id, method: "chat.create", params: { title: "Plans" } });
    await assert.rejects(c.invoke("chat.send", { chatId: "c1", text: "hi" }), (error: unknown) => {
        assert.ok(error instanceof UiError);
        assert.equal(error.message, "Open a model first.");
        assert.equal(error.code, "not-ready");
        return true;
    });
    assert.equal(b.urls[0], "/api?token=secret", "the token goes as the query parameter");
});

test("subscribe: the state first, then events; a second listener starts from the folded state", { timeout: 10000 }, async () => {
    const b = await bridge();
    const c = client(b.url);
    const seen: unknown[] = [];
    c.subscribe("chats", (m) => seen.push(m));
    await b.until(() => b.received.some((r) => r.type === "subscribe" && r.stream === "chats"), "the subscribe");
    const state: ChatsState = { chats: [{ id: "a", title: "a", createdAtMs: 1, updatedAtMs: 1, messages: [{ id: "r", role: "assistant", text: "", createdAtMs: 1, status: "streaming", error: "", stats: null }] }], notice: "" };
    b.broadcast({ type: "state", stream: "chats", state });
    b.broadcast({ type: "event", stream: "chats", event: { type: "delta", chatId: "a", messageId: "r", text: "Hi" } });
    b.broadcast({ type: "event", stream: "app", event: { type: "changed", state: {} } }); // a stream not subscribed: ignored
    await waitFor(() => seen.length >= 2, "state and event");
    assert.deepEqual(seen, [{ kind: "state", state }, { kind: "event", event: { type: "delta", chatId: "a", messageId: "r", text: "Hi" } }]);

    const late: unknown[] = [];
    const stopLate = c.subscribe("chats", (m) => late.push(m));
    assert.equal(late.length, 1, "the state at once");
    const lateState = (late[0] as { kind: string; state: ChatsState });
    assert.equal(lateState.kind, "state");
    assert.equal(lateState.state.chats[0]!.messages[0]!.text, "Hi", "folded with the events since");
    assert.equal(b.received.filter((r) => r.type === "subscribe" && r.stream === "chats").length, 1, "one subscription on the wire");

    stopLate();
    c.subscribe("app", () => {})(); // subscribe and unsubscribe at once
    await b.until(() => b.received.some((r) => r.type === "unsubscribe" && r.stream === "app"), "app unsubscribe");
    assert.equal(b.received.some((r) => r.type === "unsubscribe" && r.stream === "chats"), false, "chats still has a listener");
});

test("after the connection drops it reconnects, subscribes to every stream again, and takes the new state", { timeout: 10000 }, async () => {
    const b = await bridge();
    b.onRequest = (r, socket) => {
        if (r.type === "subscribe") b.send(socket, { type: "state", stream: r.stream, state: { connection: b.urls.length } });
    };
    const c = client(b.url);
    const statuses: ConnectionInfo["status"][] = [];
    c.onConnection((info) => { if (statuses.at(-1) !== info.status) statuses.push(info.status); });
    const states: unknown[] = [];
    c.subscribe("model", (m) => { if (m.kind === "state") states.push(m.state); });
    c.subscribe("downloads", () => {});
    await waitFor(() => states.length === 1, "the first state");
    assert.deepEqual(states[0], { connection: 1 });

    for (const s of b.sockets) s.terminate();
    await waitFor(() => states.length === 2, "the state after reconnecting");
    assert.deepEqual(states[1], { connection: 2 }, "the second connection's state");
    const subscribes = b.received.filter((r) => r.type === "subscribe").map((r) => (r as { stream: string }).stream);
    assert.deepEqual(subscribes.sort(), ["downloads", "downloads", "model", "model"], "each stream subscribed once per connection");
    assert.deepEqual(statuses, ["connecting", "open", "lost", "open"]);
    assert.equal(b.urls[1], "/api?token=secret", "the token again");
});

test("a request in flight when the connection drops fails with what to do; one made while down waits for the connection", { timeout: 10000 }, async () => {
    const b = await bridge();
    let answer = false;
    b.onRequest = (r, socket) => {
        if (r.type === "invoke" && answer) b.send(socket, { type: "result", id: r.id, result: { messageId: "m" } });
    };
    const c = client(b.url, { initialRetryMs: 150 });
    await waitFor(() => c.connection.status === "open", "open");
    const inFlight = c.invoke("chat.send", { chatId: "a", text: "hi" });
    await b.until(() => b.received.some((r) => r.type === "invoke"), "the invoke");
    for (const s of b.sockets) s.terminate();
    await assert.rejects(inFlight, (error: unknown) => error instanceof UiError && error.code === "not-ready" && /connection/i.test(error.message));
    await waitFor(() => c.connection.status === "lost", "lost");

    answer = true;
    const whileDown = c.invoke("chat.stop", { chatId: "a" });
    const invokesBefore = b.received.filter((r) => r.type === "invoke").length;
    const result = await whileDown;
    assert.deepEqual(result, { messageId: "m" });
    assert.equal(b.received.filter((r) => r.type === "invoke").length, invokesBefore + 1, "sent once, after reconnecting");
    assert.equal(c.connection.status, "open");
});

test("a server that never answers: connecting with failed attempts; requests time out; close stops retrying", { timeout: 10000 }, async () => {
    const b = await bridge();
    const port = b.port;
    await b.close();
    bridges.splice(bridges.indexOf(b), 1);
    const c = client(`ws://127.0.0.1:${port}/api`, { requestTimeoutMs: 200 });
    await waitFor(() => c.connection.failedAttempts >= 2, "two failed attempts");
    assert.equal(c.connection.status, "connecting", "never opened: still connecting, not lost");
    await assert.rejects(c.invoke("model.catalogue", {}), (error: unknown) => error instanceof UiError && /cannot be reached/.test(error.message));
    c.close();
    const attempts = c.connection.failedAttempts;
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(c.connection.failedAttempts, attempts, "no attempts after close");
    await assert.rejects(c.invoke("model.catalogue", {}), UiError);
});

test("the login token: taken from the address once, kept in session storage, removed from the address", { timeout: 10000 }, () => {
    const stored = new Map<string, string>();
    const storage = { getItem: (k: string) => stored.get(k) ?? null, setItem: (k: string, v: string) => { stored.set(k, v); } };
    const replaced: string[] = [];
    const history = { replaceState: (_d: unknown, _u: string, url?: string) => { replaced.push(url ?? ""); } };
    const first = takeLoginToken({ protocol: "http:", host: "node:7420", href: "http://node:7420/?token=t%2Fok&x=1#chat" }, storage, history);
    assert.equal(first, "t/ok");
    assert.equal(stored.get(TOKEN_STORAGE_KEY), "t/ok");
    assert.deepEqual(replaced, ["/?x=1#chat"]);
    const reload = takeLoginToken({ protocol: "http:", host: "node:7420", href: "http://node:7420/?x=1" }, storage, history);
    assert.equal(reload, "t/ok", "a reload uses the kept token");
    assert.equal(replaced.length, 1, "nothing to take out the second time");
    assert.equal(takeLoginToken({ protocol: "http:", host: "h", href: "http://h/" }, null), null);

    assert.equal(bridgeUrl({ protocol: "http:", host: "192.168.1.20:7420" }, "a b&c"), "ws://192.168.1.20:7420/api?token=a%20b%26c");
    assert.equal(bridgeUrl({ protocol: "https:", host: "node.local" }, "t"), "wss://node.local/api?token=t");
    assert.equal(bridgeUrl({ protocol: "http:", host: "h:1" }, null), "ws://h:1/api");
});
