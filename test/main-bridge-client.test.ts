// The preload's bridge client (main/bridge-client.ts) without Electron: the allow-list built from
// the contract, one subscription per stream shared by many listeners, the state for late
// listeners, ports replaced when the node restarts, and the app stream while the node is down.
import assert from "node:assert/strict";
import { test } from "node:test";
import { UI_METHODS, UI_STREAMS, UiError, type AppState, type BridgeReply, type BridgeRequest, type ChatView, type ChatsState, type UiStreamMessage } from "../app/ui-api/contract.ts";
import { BridgeClient, refuseInvoke, refuseStream } from "../main/bridge-client.ts";
import type { NodeDown } from "../main/worker-protocol.ts";

const T = { timeout: 10000 };

function link(client: BridgeClient): { sent: BridgeRequest[]; reply: (r: BridgeReply) => void } {
    const sent: BridgeRequest[] = [];
    client.attach((text) => sent.push(JSON.parse(text) as BridgeRequest));
    return { sent, reply: (r) => client.receive(JSON.stringify(r)) };
}

const APP: AppState = { phase: "running", version: "0.1.0", nodeName: "den", nodeId: "n1", clusterId: "c1", address: "192.168.1.5:7420", message: "", shell: "desktop", api: { enabled: false, url: null, error: "" } };

function down(phase: NodeDown["phase"], message: string, gaveUp = false): NodeDown {
    return { phase, message, gaveUp, fallback: { ...APP, phase, message, nodeId: null, clusterId: null, address: null, nodeName: "fallback" } };
}

test("every method and stream of the contract passes; anything else is refused", T, () => {
    for (const m of UI_METHODS) assert.equal(refuseInvoke(m, {}), null, m);
    for (const s of UI_STREAMS) assert.equal(refuseStream(s), null, s);
    for (const m of ["shell.exec", "__proto__", "constructor", "cluster.create ", "CLUSTER.CREATE", "", 42, null, undefined, { toString: () => "chat.send" }]) {
        assert.equal(refuseInvoke(m, {})?.code, "bad-request", String(m));
    }
    for (const s of ["logs", "__proto__", "App", "", null, 7]) assert.equal(refuseStream(s)?.code, "bad-request", String(s));
    assert.equal(refuseInvoke("chat.send", "hello")?.code, "bad-request", "params must be an object");
    assert.equal(refuseInvoke("chat.send", [1])?.code, "bad-request", "not an array");
    assert.equal(refuseInvoke("chat.send", null)?.code, "bad-request", "not null");
    assert.equal(refuseInvoke("cluster.invite", undefined), null, "no params is {}");
});

test("a refused method never reaches the node and fails with bad-request", T, async () => {
    const client = new BridgeClient();
    const { sent } = link(client);
    await assert.rejects(client.invoke("shell.exec" as never, {} as never), (e: unknown) => e instanceof UiError && e.code === "bad-request");
    await assert.rejects(client.invoke("chat.send", { chatId: "a", text: "x", big: 10n } as never), (e: unknown) => e instanceof UiError && e.code === "bad-request", "not JSON");
    assert.throws(() => client.subscribe("logs" as never, () => {}), (e: unknown) => e instanceof UiError && e.code === "bad-request");
    assert.deepEqual(sent, []);
});

test("an invoke goes out once and resolves with its result, or rejects with the node's error and code", T, async () => {
    const client = new BridgeClient();
    const { sent, reply } = link(client);
    const created = client.invoke("chat.create", { title: "t" });
    const failed = client.invoke("cluster.join", { code: "nope" });
    assert.deepEqual(sent.map((r) => r.type === "invoke" ? [r.method, r.params] : r.type), [["chat.create", { title: "t" }], ["cluster.join", { code: "nope" }]]);
    const [a, b] = sent as Array<Extract<BridgeRequest, { type: "invoke" }>>;
    assert.notEqual(a!.id, b!.id);
    reply({ type: "error", id: b!.id, error: { message: "that join code is not valid", code: "bad-request" } });
    reply({ type: "result", id: a!.id, result: { id: "c1" } });
    reply({ type: "result", id: a!.id, result: { id: "twice" } });
    assert.deepEqual(await created, { id: "c1" });
    await assert.rejects(failed, (e: unknown) => e instanceof UiError && e.message === "that join code is not valid" && e.code === "bad-request");
    assert.deepEqual(client.inFlight, { sent: 0, waiting: 0 });
});

test("listeners of one stream share one subscription, get the state first, then events folded into it", T, () => {
    const client = new BridgeClient();
    const { sent, reply } = link(client);
    const one: Array<UiStreamMessage<"chats">> = [];
    const two: Array<UiStreamMessage<"chats">> = [];
    const off1 = client.subscribe("chats", (m) => one.push(m));
    const off2 = client.subscribe("chats", (m) => two.push(m));
    assert.deepEqual(sent, [{ type: "subscribe", stream: "chats" }], "one subscribe for two listeners");
    client.receive(JSON.stringify({ type: "event", stream: "chats", event: { type: "notice", notice: "early" } }));
    assert.equal(one.length, 0, "no event before the state");
    const chat: ChatView = { id: "c", title: "T", createdAtMs: 1, updatedAtMs: 1, messages: [{ id: "m", role: "assistant", text: "", createdAtMs: 1, status: "streaming", error: "", stats: null }] };
    reply({ type: "state", stream: "chats", state: { chats: [chat], notice: "" } satisfies ChatsState });
    reply({ type: "event", stream: "chats", event: { type: "delta", chatId: "c", messageId: "m", text: "Hel" } });
    reply({ type: "event", stream: "chats", event: { type: "delta", chatId: "c", messageId: "m", text: "lo" } });
    assert.deepEqual(one.map((m) => m.kind), ["state", "event", "event"]);
    assert.deepEqual(two, one);
    assert.deepEqual(one[2], { kind: "event", event: { type: "delta", chatId: "c", messageId: "m", text: "lo" } }, "deltas go to listeners as deltas");
    // A late listener gets the folded state at once, with both deltas in it.
    const late: Array<UiStreamMessage<"chats">> = [];
    const off3 = client.subscribe("chats", (m) => late.push(m));
    assert.equal(late.length, 1);
    assert.equal(late[0]!.kind === "state" ? late[0]!.state.chats[0]!.messages[0]!.text : null, "Hello");
    off1(); off2();
    assert.equal(sent.length, 1, "still one listener: no unsubscribe");
    off3();
    off3();
    assert.deepEqual(sent.at(-1), { type: "unsubscribe", stream: "chats" });
    assert.equal(sent.length, 2, "an unsubscribe called twice goes once");
});

test("a listener that throws does not stop the others", T, () => {
    const client = new BridgeClient();
    const { reply } = link(client);
    const got: string[] = [];
    client.subscribe("app", () => { throw new Error("boom"); });
    client.subscribe("app", (m) => got.push(m.kind));
    reply({ type: "state", stream: "app", state: APP });
    assert.deepEqual(got, ["state"]);
});

test("requests wait for the first port, then go out on it with every subscription", T, async () => {
    const client = new BridgeClient();
    const got: string[] = [];
    client.subscribe("model", (m) => got.push(m.kind));
    const invite = client.invoke("cluster.invite", {});
    assert.deepEqual(client.inFlight, { sent: 0, waiting: 1 });
    const { sent, reply } = link(client);
    assert.deepEqual(sent.map((r) => r.type), ["subscribe", "invoke"]);
    const id = (sent[1] as Extract<BridgeRequest, { type: "invoke" }>).id;
    reply({ type: "result", id, result: { code: "ABCD" } });
    assert.deepEqual(await invite, { code: "ABCD" });
});

test("when the node goes down, requests in flight fail, the app stream says why, and a new port brings every stream back", T, async () => {
    const client = new BridgeClient();
    const first = link(client);
    const app: Array<UiStreamMessage<"app">> = [];
    const chats: Array<UiStreamMessage<"chats">> = [];
    client.subscribe("app", (m) => app.push(m));
    client.subscribe("chats", (m) => chats.push(m));
    first.reply({ type: "state", stream: "app", state: APP });
    first.reply({ type: "state", stream: "chats", state: { chats: [], notice: "" } });
    const inFlight = client.invoke("chat.send", { chatId: "c", text: "hi" });

    client.nodeDown(down("failed", "the node stopped unexpectedly (exit code 134); restarting in 1 s…"));
    await assert.rejects(inFlight, (e: unknown) => e instanceof UiError && e.code === "not-ready" && e.message.includes("exit code 134"));
    assert.deepEqual(app.at(-1), {
        kind: "event",
        event: { type: "changed", state: { ...APP, phase: "failed", message: "the node stopped unexpectedly (exit code 134); restarting in 1 s…", address: null } }
    }, "the last app state the node sent, with the failure (the fallback is for a client that has none)");
    await assert.rejects(client.invoke("chat.create", {}), (e: unknown) => e instanceof UiError && e.code === "not-ready", "while failed, requests fail at once");

    client.nodeDown(down("starting", "the node stopped unexpectedly (exit code 134); restarting…"));
    assert.equal(app.at(-1)!.kind === "event" ? (app.at(-1) as { event: { state: AppState } }).event.state.phase : null, "starting");
    const waiting = client.invoke("chat.create", {});
    assert.deepEqual(client.inFlight, { sent: 0, waiting: 1 }, "while starting, requests wait");

    // A stale reply from the old port must not resolve anything.
    first.reply({ type: "result", id: 1, result: "stale" });
    const second = link(client);
    assert.deepEqual(second.sent.map((r) => r.type === "invoke" ? `invoke ${r.method}` : `${r.type} ${r.stream}`).sort(), ["invoke chat.create", "subscribe app", "subscribe chats"]);
    second.reply({ type: "state", stream: "app", state: { ...APP, nodeId: "n1b" } });
    assert.deepEqual(app.at(-1), { kind: "state", state: { ...APP, nodeId: "n1b" } }, "the new node's state, as a state message");
    second.reply({ type: "state", stream: "chats", state: { chats: [], notice: "restored" } });
    assert.equal(chats.filter((m) => m.kind === "state").length, 2);
    const id = (second.sent.find((r) => r.type === "invoke") as Extract<BridgeRequest, { type: "invoke" }>).id;
    second.reply({ type: "result", id, result: { id: "new" } });
    assert.deepEqual(await waiting, { id: "new" });
});

test("a first app listener while the node is down gets the fallback state at once", T, () => {
    const client = new BridgeClient();
    client.nodeDown(down("starting", "starting this machine's node…"));
    const got: Array<UiStreamMessage<"app">> = [];
    client.subscribe("app", (m) => got.push(m));
    assert.equal(got.length, 1);
    assert.equal(got[0]!.kind, "state");
    const state = (got[0] as { state: AppState }).state;
    assert.equal(state.nodeName, "fallback");
    assert.equal(state.phase, "starting");
    assert.equal(state.message, "starting this machine's node…");
});

test("giving up fails the requests that were waiting", T, async () => {
    const client = new BridgeClient();
    client.nodeDown(down("starting", "restarting…"));
    const waiting = client.invoke("model.catalogue", {});
    client.nodeDown(down("failed", "the node stopped unexpectedly, 5 times in a row", true));
    await assert.rejects(waiting, (e: unknown) => e instanceof UiError && e.message.includes("5 times"));
    assert.deepEqual(client.inFlight, { sent: 0, waiting: 0 });
});

test("a port that throws on send fails the request instead of losing it", T, async () => {
    const client = new BridgeClient();
    client.attach(() => { throw new Error("port closed"); });
    await assert.rejects(client.invoke("chat.create", {}), (e: unknown) => e instanceof UiError && e.code === "not-ready");
    assert.deepEqual(client.inFlight, { sent: 0, waiting: 0 });
});

test("replies that are not JSON bridge replies are dropped", T, () => {
    const lines: string[] = [];
    const client = new BridgeClient({ log: (l) => lines.push(l) });
    const { reply } = link(client);
    const got: string[] = [];
    client.subscribe("app", (m) => got.push(m.kind));
    client.receive("{not json");
    client.receive({ type: "state" });
    client.receive(JSON.stringify({ type: "state", stream: "secrets", state: 1 }));
    assert.deepEqual(got, []);
    assert.equal(lines.length, 2);
    reply({ type: "state", stream: "app", state: APP });
    assert.deepEqual(got, ["state"]);
});
