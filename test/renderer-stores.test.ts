// The renderer's stores as plain functions over a fake HearthApi: the streams folded (state
// first, then events), chat deltas landing on their message only, batching, the actions calling
// the right methods with the right params, and a fresh state (a reconnect) replacing the fold.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
    UiError, UI_STREAMS,
    type AppState, type ChatMessageView, type ChatsState, type ChatView, type HearthApi, type ModelState,
    type UiMethod, type UiParams, type UiResult, type UiStreamMessage, type UiStreamName, type UiStreamState, type UiStreamEvent
} from "../app/ui-api/contract.ts";
import type { ClusterModel, ClusterViewState, Peer } from "../app/cluster/cluster-view.ts";
import { createStreamsStore, type Scheduler } from "../renderer/state/streams-store.ts";
import { createUiStore } from "../renderer/state/ui-store.ts";
import { createActions, errorMessage } from "../renderer/state/actions.ts";
import { createHearth } from "../renderer/state/hearth.ts";
import { chatReadiness, clusterGlance, effectiveChatId, findMessage, messageIds } from "../renderer/state/selectors.ts";
import type { ConnectionInfo } from "../renderer/api/ws-client.ts";

type Handler = (params: unknown) => unknown;

/** A HearthApi that records every call and lets the test push states and events. */
class FakeApi implements HearthApi {
    calls: { method: UiMethod; params: unknown }[] = [];
    handlers: Partial<Record<UiMethod, Handler>> = {};
    listeners = new Map<UiStreamName, Set<(message: UiStreamMessage<UiStreamName>) => void>>();
    subscribeCount = new Map<UiStreamName, number>();

    invoke<M extends UiMethod>(method: M, params: UiParams<M>): Promise<UiResult<M>> {
        this.calls.push({ method, params });
        const handler = this.handlers[method];
        if (handler === undefined) return Promise.reject(new UiError(`no handler for ${method}`, "failed"));
        try {
            return Promise.resolve(handler(params) as UiResult<M>);
        } catch (error) {
            return Promise.reject(error);
        }
    }

    subscribe<S extends UiStreamName>(stream: S, listener: (message: UiStreamMessage<S>) => void): () => void {
        const set = this.listeners.get(stream) ?? new Set();
        this.listeners.set(stream, set);
        const l = listener as unknown as (message: UiStreamMessage<UiStreamName>) => void;
        set.add(l);
        this.subscribeCount.set(stream, (this.subscribeCount.get(stream) ?? 0) + 1);
        return () => { set.delete(l); };
    }

    state<S extends UiStreamName>(stream: S, state: UiStreamState<S>): void {
        for (const l of this.listeners.get(stream) ?? []) l({ kind: "state", state } as UiStreamMessage<UiStreamName>);
    }

    event<S extends UiStreamName>(stream: S, event: UiStreamEvent<S>): void {
        for (const l of this.listeners.get(stream) ?? []) l({ kind: "event", event } as UiStreamMessage<UiStreamName>);
    }

    methods(): UiMethod[] { return this.calls.map((c) => c.method); }
}

const appState = (over: Partial<AppState> = {}): AppState => ({
    phase: "running", version: "0.1.0", nodeName: "mac-mini", nodeId: "n1", clusterId: "c1",
    address: "192.168.1.20:7420", message: "", shell: "web", api: { enabled: false, url: null, error: "" }, ...over
});

const message = (id: string, role: "user" | "assistant", text: string, status: ChatMessageView["status"] = "done"): ChatMessageView =>
    ({ id, role, text, createdAtMs: 1000, status, error: "", stats: null });

const chat = (id: string, messages: ChatMessageView[] = [], title = id): ChatView =>
    ({ id, title, createdAtMs: 1000, updatedAtMs: 1000, messages });

const model = (over: Partial<ClusterModel> = {}): ClusterModel => ({
    name: "Llama 3.2 3B", modelSha256: "ab", hostNodeId: "n1", hostName: "mac-mini", state: "ready", message: "",
    planVersion: 1, plan: { stages: [], predictedTokensPerSecond: 12 }, proposed: null, ...over
});

const modelState = (over: Partial<ModelState> = {}): ModelState => ({ hosted: null, loading: null, error: "", facts: null, ...over });

const peer = (nodeId: string, over: Partial<Peer> = {}): Peer => ({
    nodeId, name: nodeId, state: "member", relation: "member", address: null, addresses: [], version: null, protocol: null,
    inventory: null, lastSeenMs: null, source: "mdns", link: null, ...over
});

const clusterState = (peers: Peer[]): ClusterViewState => ({
    self: { nodeId: "n1", name: "mac-mini", clusterId: "c1", version: null, protocol: null, address: null },
    peers, discoveryProblem: null, model: null,
    inputs: { discovery: [], members: [], joining: [], inventories: [], reachability: [], model: null }
});

/** Everything a Hearth needs, with a store filled from pushed states. */
function setup(schedule?: Scheduler) {
    const api = new FakeApi();
    const streams = createStreamsStore(api, { schedule });
    const ui = createUiStore();
    const actions = createActions(api, streams, ui);
    return { api, streams, store: streams.store, ui, actions };
}

test("the streams store subscribes to every stream and takes each state, then folds its events", { timeout: 10000 }, () => {
    const { api, store } = setup();
    assert.deepEqual([...api.listeners.keys()].sort(), [...UI_STREAMS].sort());
    assert.equal(store.getState().app, null);
    assert.equal(store.getState().received.app, false);

    api.state("app", appState({ phase: "setup" }));
    assert.equal(store.getState().app?.phase, "setup");
    assert.equal(store.getState().received.app, true);
    api.event("app", { type: "changed", state: appState({ phase: "running" }) });
    assert.equal(store.getState().app?.phase, "running");

    api.state("cluster", null);
    assert.equal(store.getState().received.cluster, true, "a null cluster state counts as received");
    api.event("cluster", { type: "changed", state: clusterState([peer("n1", { relation: "self" })]) });
    assert.equal(store.getState().cluster?.peers.length, 1);

    api.state("downloads", []);
    api.event("downloads", { type: "changed", state: [{ id: "d1", url: "https://x/y.gguf", fileName: "y.gguf", path: "/m/y.gguf", state: "downloading", bytesDone: 5, bytesTotal: 10, bytesPerSecond: 1, etaSeconds: 5, error: "" }] });
    assert.equal(store.getState().downloads?.[0]?.bytesDone, 5);
});

test("an event before its stream's state is dropped; the state that follows stands", { timeout: 10000 }, () => {
    const { api, store } = setup();
    api.event("model", { type: "changed", state: modelState({ error: "early" }) });
    assert.equal(store.getState().model, null, "nothing to fold an early event into");
    api.event("chats", { type: "notice", notice: "early" });
    assert.equal(store.getState().chats, null);
    api.state("model", modelState({ error: "" }));
    assert.equal(store.getState().model?.error, "");
});

test("a chat delta is appended to its message only; the other messages and chats keep their identity", { timeout: 10000 }, () => {
    const { api, store } = setup();
    const a = chat("a", [message("u1", "user", "hi"), message("r1", "assistant", "", "streaming")]);
    const b = chat("b", [message("r9", "assistant", "other reply", "streaming")]);
    api.state("chats", { chats: [a, b], notice: "" });
    const before = store.getState().chats!;
    const userBefore = findMessage(before, "a", "u1");
    const otherChatMessage = findMessage(before, "b", "r9");

    api.event("chats", { type: "delta", chatId: "a", messageId: "r1", text: "Hel" });
    api.event("chats", { type: "delta", chatId: "a", messageId: "r1", text: "lo" });
    const after = store.getState().chats!;
    assert.equal(findMessage(after, "a", "r1")?.text, "Hello");
    assert.equal(findMessage(after, "b", "r9")?.text, "other reply", "the other chat's streaming reply is untouched");
    assert.equal(findMessage(after, "a", "u1"), userBefore, "the user's message is the same object: its row does not re-render");
    assert.equal(findMessage(after, "b", "r9"), otherChatMessage);
    assert.deepEqual(messageIds(after, "a"), ["u1", "r1"]);

    api.event("chats", { type: "messageFinished", chatId: "a", message: { ...message("r1", "assistant", "Hello!", "done"), stats: { timeToFirstTokenMs: 100, tokensPerSecond: 10, tokens: 3, servedBy: ["mac-mini", "pc"], hostName: "mac-mini", planVersion: 1, stopReason: "eos" } } });
    const done = findMessage(store.getState().chats, "a", "r1");
    assert.equal(done?.status, "done");
    assert.equal(done?.text, "Hello!");
    assert.deepEqual(done?.stats?.servedBy, ["mac-mini", "pc"]);
});

test("queued messages are applied together, once per scheduled flush, in order", { timeout: 10000 }, () => {
    const pending: (() => void)[] = [];
    const { api, store } = setup((flush) => pending.push(flush));
    let updates = 0;
    store.subscribe(() => { updates++; });
    api.state("chats", { chats: [chat("a", [message("r1", "assistant", "", "streaming")])], notice: "" });
    for (const piece of ["one ", "two ", "three"]) api.event("chats", { type: "delta", chatId: "a", messageId: "r1", text: piece });
    assert.equal(store.getState().chats, null, "nothing applied before the flush");
    assert.equal(pending.length, 1, "one flush scheduled for the whole burst");
    pending.shift()!();
    assert.equal(updates, 1, "one store update for the state and three deltas");
    assert.equal(findMessage(store.getState().chats, "a", "r1")?.text, "one two three");
    api.event("chats", { type: "delta", chatId: "a", messageId: "r1", text: "!" });
    assert.equal(pending.length, 1, "a new burst schedules again");
    pending.shift()!();
    assert.equal(findMessage(store.getState().chats, "a", "r1")?.text, "one two three!");
});

test("a fresh state (as after a reconnect) replaces the folded one", { timeout: 10000 }, () => {
    const { api, store } = setup();
    api.state("chats", { chats: [chat("a", [message("r1", "assistant", "", "streaming")])], notice: "" });
    api.event("chats", { type: "delta", chatId: "a", messageId: "r1", text: "partial" });
    // The connection dropped; the server's state on the new one has the reply as it ended meanwhile.
    api.state("chats", { chats: [chat("a", [message("r1", "assistant", "partial and finished", "done")]), chat("b")], notice: "" });
    const chats = store.getState().chats!;
    assert.equal(findMessage(chats, "a", "r1")?.text, "partial and finished");
    assert.equal(findMessage(chats, "a", "r1")?.status, "done");
    assert.equal(chats.chats.length, 2);
});

test("send in the chat shown calls chat.send with its id and the text, and clears the draft", { timeout: 10000 }, async () => {
    const { api, ui, actions } = setup();
    api.state("chats", { chats: [chat("newest"), chat("older")], notice: "" });
    api.handlers["chat.send"] = () => ({ messageId: "m1" });
    actions.selectChat("older");
    actions.setDraft("older", "Hello there");
    assert.equal(await actions.send("Hello there"), true);
    assert.deepEqual(api.calls, [{ method: "chat.send", params: { chatId: "older", text: "Hello there" } }]);
    assert.equal(ui.getState().drafts["older"], "");
    assert.equal(ui.getState().busy.send, false);
});

test("send with no chat yet makes one (chat.create) and sends in it; the chat shows before its event", { timeout: 10000 }, async () => {
    const { api, store, ui, actions } = setup();
    api.state("chats", { chats: [], notice: "" });
    api.handlers["chat.create"] = () => chat("fresh", [], "New chat");
    api.handlers["chat.send"] = () => ({ messageId: "m1" });
    assert.equal(await actions.send("first message"), true);
    assert.deepEqual(api.methods(), ["chat.create", "chat.send"]);
    assert.deepEqual(api.calls[1]!.params, { chatId: "fresh", text: "first message" });
    assert.equal(ui.getState().activeChatId, "fresh");
    assert.deepEqual(store.getState().chats?.chats.map((c) => c.id), ["fresh"]);
    // Its chatCreated event, arriving later, does not make a second one.
    api.event("chats", { type: "chatCreated", chat: chat("fresh", [], "New chat") });
    assert.deepEqual(store.getState().chats?.chats.map((c) => c.id), ["fresh"]);
});

test("a send that fails keeps its error (the node's words) and gives the text back to the draft", { timeout: 10000 }, async () => {
    const { api, ui, actions } = setup();
    api.state("chats", { chats: [chat("a")], notice: "" });
    api.handlers["chat.send"] = () => { throw new UiError("No model is loaded: open one in Model.", "not-ready"); };
    actions.setDraft("a", "are you there?");
    assert.equal(await actions.send("are you there?"), false);
    assert.equal(ui.getState().errors.send, "No model is loaded: open one in Model.");
    assert.equal(ui.getState().drafts["a"], "are you there?");
    assert.equal(await actions.send("   "), false, "blank text is not sent");
    assert.equal(api.calls.length, 1);
});

test("stop calls chat.stop for the chat shown; new chat calls chat.create and shows it", { timeout: 10000 }, async () => {
    const { api, ui, actions } = setup();
    api.state("chats", { chats: [chat("a", [message("r", "assistant", "…", "streaming")]), chat("b")], notice: "" });
    api.handlers["chat.stop"] = () => ({});
    api.handlers["chat.create"] = () => chat("c");
    actions.selectChat("b");
    await actions.stop();
    assert.deepEqual(api.calls.at(-1), { method: "chat.stop", params: { chatId: "b" } });
    actions.selectChat("a");
    await actions.stop();
    assert.deepEqual(api.calls.at(-1), { method: "chat.stop", params: { chatId: "a" } });
    const created = await actions.newChat();
    assert.equal(created?.id, "c");
    assert.equal(ui.getState().activeChatId, "c");
    assert.deepEqual(api.calls.at(-1), { method: "chat.create", params: {} });
});

test("setup actions pass what was typed (trimmed; empty fields left out) and keep errors", { timeout: 10000 }, async () => {
    const { api, ui, actions } = setup();
    api.handlers["cluster.create"] = () => appState({ phase: "starting" });
    api.handlers["cluster.join"] = (p) => {
        if ((p as { code: string }).code === "BAD") throw new UiError("a join code has 16 characters, this one has 3", "bad-request");
        return appState({ phase: "starting" });
    };
    await actions.createCluster("  ");
    await actions.createCluster(" attic-pc ");
    assert.deepEqual(api.calls.map((c) => c.params), [{}, { name: "attic-pc" }]);

    await actions.joinCluster({ code: " 7KQ2-M9XD-4HPW-3TRN ", name: "", peer: " 192.168.1.20:7420 " });
    assert.deepEqual(api.calls.at(-1), { method: "cluster.join", params: { code: "7KQ2-M9XD-4HPW-3TRN", peer: "192.168.1.20:7420" } });
    assert.equal(await actions.joinCluster({ code: "BAD", name: "x", peer: "" }), false);
    assert.equal(ui.getState().errors.join, "a join code has 16 characters, this one has 3");
    const before = api.calls.length;
    assert.equal(await actions.joinCluster({ code: "  ", name: "", peer: "" }), false);
    assert.equal(api.calls.length, before, "an empty code is not sent");
    assert.match(ui.getState().errors.join ?? "", /Invite/);
});

test("a request is busy while it runs; invite, leave, model and download actions call their methods", { timeout: 10000 }, async () => {
    const { api, ui, actions } = setup();
    let release!: () => void;
    api.handlers["cluster.invite"] = () => new Promise((resolve) => { release = () => resolve({ code: "ABCD-EFGH-JKMN-PQRS", expiresAtMs: 1e13, joinAddress: "192.168.1.20:7420", inviterName: "mac-mini" }); });
    ui.setState({ invite: { code: "USED-CODE-0000-0000", expiresAtMs: 1e13, joinAddress: "", inviterName: "" } });
    const inviting = actions.invite();
    assert.equal(ui.getState().busy.invite, true);
    assert.equal(ui.getState().invite, null, "the old code is gone while the new one comes");
    release();
    assert.equal((await inviting)?.code, "ABCD-EFGH-JKMN-PQRS");
    assert.equal(ui.getState().busy.invite, false);
    assert.equal(ui.getState().invite?.code, "ABCD-EFGH-JKMN-PQRS");

    api.handlers["cluster.leave"] = () => appState({ phase: "setup" });
    ui.setState({ pane: "cluster" });
    assert.equal(await actions.leave(), true);
    assert.equal(ui.getState().invite, null, "the invite goes with the cluster");
    assert.equal(ui.getState().pane, "chat");

    api.handlers["model.open"] = () => modelState();
    api.handlers["model.openTestModel"] = () => modelState();
    api.handlers["model.download"] = () => ({});
    api.handlers["model.cancelDownload"] = () => ({});
    api.handlers["model.catalogue"] = () => [{ id: "x", title: "X", sizeClass: "1–3B", architecture: "llama", quantization: "Q4_K_M", sizeBytes: 1, url: "https://h/x.gguf", fits: true, shortfallBytes: 0 }];
    await actions.openModel(" /models/a.gguf ");
    await actions.openTestModel();
    await actions.download("https://huggingface.co/a/b/resolve/main/c.gguf");
    await actions.cancelDownload("d1");
    await actions.loadCatalogue();
    assert.deepEqual(api.calls.slice(-5), [
        { method: "model.open", params: { path: "/models/a.gguf" } },
        { method: "model.openTestModel", params: {} },
        { method: "model.download", params: { url: "https://huggingface.co/a/b/resolve/main/c.gguf" } },
        { method: "model.cancelDownload", params: { id: "d1" } },
        { method: "model.catalogue", params: {} }
    ]);
    assert.equal(ui.getState().catalogue?.[0]?.id, "x");

    const calls = api.calls.length;
    assert.equal(await actions.download("not a url"), false);
    assert.equal(await actions.openModel("  "), false);
    assert.equal(api.calls.length, calls, "nothing is sent for input that cannot be right");
    assert.match(ui.getState().errors.download ?? "", /huggingface/);
});

test("the file picker (Electron) opens what was picked, and nothing when cancelled", { timeout: 10000 }, async () => {
    const api = new FakeApi();
    api.handlers["model.open"] = () => modelState();
    const picks: (string | null)[] = [null, "/Users/me/m.gguf"];
    const streams = createStreamsStore(api);
    const actions = createActions(api, streams, createUiStore(), { pickModelFile: async () => picks.shift() ?? null });
    assert.equal(await actions.pickAndOpenModel(), false);
    assert.equal(api.calls.length, 0);
    assert.equal(await actions.pickAndOpenModel(), true);
    assert.deepEqual(api.calls, [{ method: "model.open", params: { path: "/Users/me/m.gguf" } }]);
});

test("errorMessage unwraps Electron's remote-method wrapping and never returns nothing", { timeout: 10000 }, () => {
    assert.equal(errorMessage(new Error("Error invoking remote method 'hearth:invoke': UiError: the port is in use")), "the port is in use");
    assert.equal(errorMessage(new UiError("plain")), "plain");
    assert.match(errorMessage(undefined), /Try again/);
});

test("selectors: chat readiness, the chat shown, the cluster at a glance", { timeout: 10000 }, () => {
    const { api, store } = setup();
    api.state("model", modelState());
    assert.equal(chatReadiness(store.getState()).kind, "none");
    api.event("model", { type: "changed", state: modelState({ hosted: model({ state: "loading" }), loading: { phase: "uploading", message: "to pc", bytesDone: 1, bytesTotal: 2 } }) });
    assert.deepEqual(chatReadiness(store.getState()), { kind: "loading", message: "to pc" });
    api.event("model", { type: "changed", state: modelState({ hosted: model({ state: "failed", message: "needs 3.1 GB more" }) }) });
    assert.deepEqual(chatReadiness(store.getState()), { kind: "failed", message: "needs 3.1 GB more" });
    api.event("model", { type: "changed", state: modelState({ hosted: model({ state: "replanning" }) }) });
    assert.equal(chatReadiness(store.getState()).kind, "ready", "chats keep working while a new plan waits");

    const chats: ChatsState = { chats: [chat("x"), chat("y")], notice: "" };
    assert.equal(effectiveChatId(chats, null), "x");
    assert.equal(effectiveChatId(chats, "y"), "y");
    assert.equal(effectiveChatId(chats, "deleted"), "x");
    assert.equal(effectiveChatId({ chats: [], notice: "" }, "y"), null);

    api.state("cluster", clusterState([
        peer("n1", { relation: "self" }), peer("n2"), peer("n3", { state: "lost" }),
        peer("n4", { relation: "no-cluster", state: "discovered" })
    ]));
    assert.deepEqual(clusterGlance(store.getState()), { machines: 4, members: 2, lost: 1, others: 1 });
});

test("the Hearth follows the connection's status and unsubscribes everything on dispose", { timeout: 10000 }, () => {
    const api = new FakeApi();
    let push!: (info: ConnectionInfo) => void;
    let reconnects = 0;
    const hearth = createHearth(api, {
        connection: {
            onConnection(listener) { push = listener; listener({ status: "connecting", failedAttempts: 0, nextAttemptAtMs: null }); return () => { push = () => assert.fail("listener left after dispose"); }; },
            reconnectNow() { reconnects++; }
        }
    });
    assert.equal(hearth.ui.getState().connection.status, "connecting");
    push({ status: "lost", failedAttempts: 2, nextAttemptAtMs: 5 });
    assert.equal(hearth.ui.getState().connection.status, "lost");
    hearth.reconnectNow?.();
    assert.equal(reconnects, 1);
    hearth.dispose();
    for (const stream of UI_STREAMS) assert.equal(api.listeners.get(stream)?.size, 0, `${stream} unsubscribed`);
    // Messages after dispose change nothing.
    api.state("app", appState());
    assert.equal(hearth.streams.getState().app, null);
});
