// The worker's end of a window's bridge (main/worker-bridge.ts) over a fake HearthApi: invoke →
// result or error (with the UiError's code), subscribe → the state then each event as it comes,
// one subscription per stream, and a malformed request or a closed window ends them all.
import assert from "node:assert/strict";
import { test } from "node:test";
import { UiError, type BridgeReply, type HearthApi, type UiStreamMessage, type UiStreamName } from "../app/ui-api/contract.ts";
import { openBridgeConnection } from "../main/worker-bridge.ts";

const T = { timeout: 10000 };

/** A HearthApi whose streams the test drives by hand. */
function fakeApi() {
    const listeners = new Map<UiStreamName, Set<(m: UiStreamMessage<UiStreamName>) => void>>();
    const calls: Array<[string, unknown]> = [];
    let answer: (method: string, params: unknown) => Promise<unknown> = async () => ({});
    const api: HearthApi = {
        invoke: (method, params) => { calls.push([method, params]); return answer(method, params) as never; },
        subscribe: (stream, listener) => {
            const set = listeners.get(stream) ?? new Set();
            listeners.set(stream, set);
            const l = listener as (m: UiStreamMessage<UiStreamName>) => void;
            set.add(l);
            l({ kind: "state", state: { stream } } as never);
            return () => { set.delete(l); };
        }
    };
    return {
        api, calls,
        answerWith(f: typeof answer) { answer = f; },
        emit(stream: UiStreamName, event: unknown) { for (const l of listeners.get(stream) ?? []) l({ kind: "event", event } as never); },
        count(stream: UiStreamName) { return listeners.get(stream)?.size ?? 0; }
    };
}

function connection(api: HearthApi) {
    const replies: BridgeReply[] = [];
    const closed: string[] = [];
    const conn = openBridgeConnection({ api, send: (text) => replies.push(JSON.parse(text) as BridgeReply), onClose: (why) => closed.push(why) });
    return { conn, replies, closed, send: (request: unknown) => conn.receive(JSON.stringify(request)) };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

test("an invoke is answered with its result, and a failure with the UiError's message and code", T, async () => {
    const fake = fakeApi();
    fake.answerWith(async (method) => {
        if (method === "cluster.join") throw new UiError("that join code has expired: ask for a new one", "bad-request");
        if (method === "cluster.leave") throw new Error("disk full");
        return { id: "c1" };
    });
    const { send, replies } = connection(fake.api);
    send({ type: "invoke", id: 1, method: "chat.create", params: { title: "x" } });
    send({ type: "invoke", id: 2, method: "cluster.join", params: { code: "X" } });
    send({ type: "invoke", id: 3, method: "cluster.leave", params: {} });
    await tick();
    assert.deepEqual(fake.calls, [["chat.create", { title: "x" }], ["cluster.join", { code: "X" }], ["cluster.leave", {}]]);
    assert.deepEqual(replies.sort((a, b) => (a as { id: number }).id - (b as { id: number }).id), [
        { type: "result", id: 1, result: { id: "c1" } },
        { type: "error", id: 2, error: { message: "that join code has expired: ask for a new one", code: "bad-request" } },
        { type: "error", id: 3, error: { message: "disk full", code: "failed" } }
    ]);
});

test("a method outside the contract is answered bad-request and never reaches the service", T, async () => {
    const fake = fakeApi();
    const { send, replies, conn } = connection(fake.api);
    send({ type: "invoke", id: 9, method: "process.exit", params: {} });
    await tick();
    assert.deepEqual(fake.calls, []);
    assert.deepEqual(replies, [{ type: "error", id: 9, error: { message: "unknown request 'process.exit'", code: "bad-request" } }]);
    assert.equal(conn.closed, false);
});

test("a subscribe gets the state, then every event as the service emits it; a second subscribe is ignored", T, () => {
    const fake = fakeApi();
    const { send, replies, conn } = connection(fake.api);
    send({ type: "subscribe", stream: "chats" });
    send({ type: "subscribe", stream: "chats" });
    assert.equal(fake.count("chats"), 1);
    fake.emit("chats", { type: "delta", chatId: "c", messageId: "m", text: "He" });
    fake.emit("chats", { type: "delta", chatId: "c", messageId: "m", text: "llo" });
    assert.deepEqual(replies, [
        { type: "state", stream: "chats", state: { stream: "chats" } },
        { type: "event", stream: "chats", event: { type: "delta", chatId: "c", messageId: "m", text: "He" } },
        { type: "event", stream: "chats", event: { type: "delta", chatId: "c", messageId: "m", text: "llo" } }
    ]);
    assert.deepEqual(conn.streams, ["chats"]);
    send({ type: "unsubscribe", stream: "chats" });
    assert.equal(fake.count("chats"), 0);
    fake.emit("chats", { type: "notice", notice: "late" });
    assert.equal(replies.length, 3);
});

test("a malformed request closes the connection and ends its subscriptions", T, () => {
    for (const bad of ["{nope", JSON.stringify([1]), JSON.stringify({ type: "invoke", id: "x", method: "chat.create" }), JSON.stringify({ type: "subscribe", stream: "secrets" }), JSON.stringify({ type: "eval" }), 42]) {
        const fake = fakeApi();
        const { conn, closed, send } = connection(fake.api);
        send({ type: "subscribe", stream: "app" });
        assert.equal(fake.count("app"), 1);
        conn.receive(bad);
        assert.equal(conn.closed, true, String(bad));
        assert.equal(closed.length, 1);
        assert.equal(fake.count("app"), 0, "its subscriptions ended");
    }
});

test("once closed, late results and events are dropped", T, async () => {
    const fake = fakeApi();
    let release: (v: unknown) => void = () => {};
    fake.answerWith(() => new Promise((resolve) => { release = resolve; }));
    const { conn, replies, send } = connection(fake.api);
    send({ type: "subscribe", stream: "model" });
    send({ type: "invoke", id: 1, method: "model.catalogue", params: {} });
    conn.close();
    release([]);
    await tick();
    fake.emit("model", { type: "changed", state: null });
    assert.deepEqual(replies.map((r) => r.type), ["state"]);
    assert.equal(fake.count("model"), 0);
});

test("a port that fails on send closes the connection instead of throwing into the service", T, () => {
    const fake = fakeApi();
    let fail = false;
    const closed: string[] = [];
    const conn = openBridgeConnection({ api: fake.api, send: () => { if (fail) throw new Error("port gone"); }, onClose: (why) => closed.push(why) });
    conn.receive(JSON.stringify({ type: "subscribe", stream: "downloads" }));
    fail = true;
    assert.doesNotThrow(() => fake.emit("downloads", { type: "changed", state: [] }));
    assert.equal(conn.closed, true);
    assert.match(closed[0]!, /port gone/);
    assert.equal(fake.count("downloads"), 0);
});
