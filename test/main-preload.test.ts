// The bundled preload (main/dist/preload.cjs) run against a stand-in for Electron's
// contextBridge and ipcRenderer: what it exposes to the page (exactly window.hearth's invoke and
// subscribe, and window.hearthShell), that it asks main for its port at once, that the contract
// goes over the port as JSON, that errors are Errors with the node's message, and that the
// node-down message reaches the app stream. Electron's own isolation is not tested here.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { before, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { AppState, BridgeRequest, HearthApi, UiStreamMessage } from "../app/ui-api/contract.ts";
import type { HearthShellApi } from "../main/shell-api.ts";
import type { NodeDown } from "../main/worker-protocol.ts";

const T = { timeout: 10000 };
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
let code = "";

before(async () => {
    const { buildMain } = (await import(path.join(root, "scripts", "build-main.mjs"))) as { buildMain: (o?: { quiet?: boolean }) => Promise<string[]> };
    await buildMain({ quiet: true });
    code = fs.readFileSync(path.join(root, "main", "dist", "preload.cjs"), "utf8");
}, { timeout: 30000 });

interface FakePort { onmessage: ((e: { data: unknown }) => void) | null; posted: string[]; closed: boolean; postMessage(text: string): void; start(): void; close(): void }

function fakePort(): FakePort {
    return {
        onmessage: null, posted: [], closed: false,
        postMessage(text) { this.posted.push(text); }, start() {}, close() { this.closed = true; }
    };
}

/** Loads the preload with a fake "electron"; returns what it exposed and handles on the fake IPC. */
function loadPreload() {
    const exposed: Record<string, unknown> = {};
    const listeners = new Map<string, Array<(event: unknown, ...args: unknown[]) => void>>();
    const sent: string[] = [];
    const invoked: string[] = [];
    const electron = {
        contextBridge: { exposeInMainWorld: (key: string, api: unknown) => { exposed[key] = api; } },
        ipcRenderer: {
            on: (channel: string, fn: (event: unknown, ...args: unknown[]) => void) => { listeners.set(channel, [...(listeners.get(channel) ?? []), fn]); },
            send: (channel: string) => { sent.push(channel); },
            invoke: async (channel: string) => { invoked.push(channel); return "/models/tiny.gguf"; }
        }
    };
    const required: string[] = [];
    const fakeRequire = (name: string) => {
        required.push(name);
        if (name === "electron") return electron;
        throw new Error(`a sandboxed preload cannot require '${name}'`);
    };
    const module = { exports: {} };
    new Function("require", "module", "exports", code)(fakeRequire, module, module.exports);
    const emit = (channel: string, event: unknown, ...args: unknown[]) => { for (const fn of listeners.get(channel) ?? []) fn(event, ...args); };
    return { exposed, sent, invoked, required, emit, listening: [...listeners.keys()].sort() };
}

const APP: AppState = { phase: "running", version: "0.1.0", nodeName: "den", nodeId: "n1", clusterId: "c1", address: "10.0.0.2:7420", message: "", shell: "desktop", api: { enabled: false, url: null, error: "" } };

test("the preload exposes exactly window.hearth {invoke, subscribe} and window.hearthShell, requires only electron, and asks for its port", T, () => {
    const p = loadPreload();
    assert.deepEqual(Object.keys(p.exposed).sort(), ["hearth", "hearthShell"]);
    assert.deepEqual(Object.keys(p.exposed.hearth as object).sort(), ["invoke", "subscribe"]);
    assert.deepEqual(Object.keys(p.exposed.hearthShell as object), ["pickModelFile"]);
    assert.deepEqual([...new Set(p.required)], ["electron"]);
    assert.deepEqual(p.sent, ["hearth:connect"]);
    assert.deepEqual(p.listening, ["hearth:node-down", "hearth:port"]);
});

test("over the port: subscriptions and requests go out as JSON, replies come back, errors keep their code", T, async () => {
    const p = loadPreload();
    const hearth = p.exposed.hearth as HearthApi;
    const port = fakePort();
    p.emit("hearth:port", { ports: [port] });
    const got: Array<UiStreamMessage<"app">> = [];
    hearth.subscribe("app", (m) => got.push(m));
    assert.deepEqual(port.posted.map((t) => JSON.parse(t) as BridgeRequest), [{ type: "subscribe", stream: "app" }]);
    port.onmessage!({ data: JSON.stringify({ type: "state", stream: "app", state: APP }) });
    assert.deepEqual(got, [{ kind: "state", state: APP }]);

    const join = hearth.invoke("cluster.join", { code: "WRONG" });
    const sentJoin = JSON.parse(port.posted[1]!) as Extract<BridgeRequest, { type: "invoke" }>;
    assert.equal(sentJoin.method, "cluster.join");
    port.onmessage!({ data: JSON.stringify({ type: "error", id: sentJoin.id, error: { message: "that join code is not valid", code: "bad-request" } }) });
    await assert.rejects(join, (e: unknown) => {
        // An Error: the context bridge passes its message to the page (the renderer reads `message`).
        assert.ok(e instanceof Error);
        assert.equal(e.message, "that join code is not valid");
        assert.equal((e as Error & { code?: string }).code, "bad-request");
        return true;
    });

    await assert.rejects(hearth.invoke("app.quit" as never, {} as never), (e: unknown) => (e as { code: string }).code === "bad-request");
    assert.equal(port.posted.length, 2, "a refused method never reaches the port");
    assert.throws(() => hearth.subscribe("secrets" as never, () => {}), /not a stream/);
});

test("a new port replaces the old one, whose late messages are ignored; node-down closes the port and reaches the app stream", T, () => {
    const p = loadPreload();
    const hearth = p.exposed.hearth as HearthApi;
    const first = fakePort();
    p.emit("hearth:port", { ports: [first] });
    const got: Array<UiStreamMessage<"app">> = [];
    hearth.subscribe("app", (m) => got.push(m));
    first.onmessage!({ data: JSON.stringify({ type: "state", stream: "app", state: APP }) });

    const status: NodeDown = { phase: "failed", message: "the node stopped unexpectedly (exit code 134); restarting in 1 s…", gaveUp: false, fallback: { ...APP, nodeName: "x" } };
    p.emit("hearth:node-down", {}, { phase: "running", message: 1 });
    assert.equal(first.closed, false, "a malformed node-down is ignored");
    p.emit("hearth:node-down", {}, status);
    assert.equal(first.closed, true);
    assert.deepEqual(got.at(-1), { kind: "event", event: { type: "changed", state: { ...APP, phase: "failed", message: status.message, address: null } } });

    const second = fakePort();
    p.emit("hearth:port", { ports: [second] });
    assert.deepEqual(second.posted.map((t) => JSON.parse(t) as BridgeRequest), [{ type: "subscribe", stream: "app" }], "the subscription is made again on the new port");
    first.onmessage!({ data: JSON.stringify({ type: "state", stream: "app", state: { ...APP, nodeName: "stale" } }) });
    assert.notEqual((got.at(-1) as { event?: { state: AppState } }).event?.state.nodeName, "stale");
    assert.equal(got.filter((m) => m.kind === "state" && m.state.nodeName === "stale").length, 0, "the old port's late message is dropped");
    second.onmessage!({ data: JSON.stringify({ type: "state", stream: "app", state: { ...APP, nodeId: "n2" } }) });
    assert.deepEqual(got.at(-1), { kind: "state", state: { ...APP, nodeId: "n2" } });
});

test("hearthShell.pickModelFile asks main and returns its answer", T, async () => {
    const p = loadPreload();
    const shell = p.exposed.hearthShell as HearthShellApi;
    assert.equal(await shell.pickModelFile(), "/models/tiny.gguf");
    assert.deepEqual(p.invoked, ["hearth:pick-model-file"]);
});
