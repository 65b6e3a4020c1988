// The bundled worker (main/dist/worker.js, as scripts/build-main.mjs makes it) with the real
// UiService, in a plain Node process that plays Electron's utility process: process.parentPort
// and the windows' MessagePorts are stood in for by an EventEmitter and worker_threads ports.
// What Electron itself does (utilityProcess.fork, MessagePortMain) is not tested here.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { AppState, BridgeReply, ChatView } from "../app/ui-api/contract.ts";

const T = { timeout: 10000 };
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const worker = path.join(root, "main", "dist", "worker.js");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-main-worker-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

before(async () => {
    const { buildMain } = (await import(path.join(root, "scripts", "build-main.mjs"))) as { buildMain: (o?: { quiet?: boolean }) => Promise<string[]> };
    await buildMain({ quiet: true });
}, { timeout: 30000 });

// The stand-in for Electron: parent messages and port traffic go over the child's IPC channel.
const HARNESS = `
import { EventEmitter } from "node:events";
import { MessageChannel } from "node:worker_threads";
import { pathToFileURL } from "node:url";
const parent = new EventEmitter();
parent.postMessage = (data) => process.send({ via: "parent", data });
process.parentPort = parent;
const ports = new Map();
const wrap = (p) => ({
    on(event, fn) { if (event === "message") p.on("message", (data) => fn({ data, ports: [] })); else if (event === "close") p.on("close", fn); return this; },
    postMessage: (data) => p.postMessage(data), start: () => p.start(), close: () => p.close()
});
process.on("message", (m) => {
    if (m.via === "port") { ports.get(m.id)?.postMessage(m.data); return; }
    if (m.data.type === "connect") {
        const { port1, port2 } = new MessageChannel();
        ports.set(m.data.connectionId, port2);
        port2.on("message", (data) => process.send({ via: "port", id: m.data.connectionId, data }));
        port2.on("close", () => process.send({ via: "closed", id: m.data.connectionId }));
        parent.emit("message", { data: m.data, ports: [wrap(port1)] });
    } else parent.emit("message", { data: m.data, ports: [] });
});
await import(pathToFileURL(process.env.HEARTH_TEST_WORKER).href);
`;

type Incoming = { via: "parent"; data: { type: string; message?: string } } | { via: "port"; id: number; data: string } | { via: "closed"; id: number };

interface Worker {
    child: ChildProcess;
    received: Incoming[];
    stderr: () => string;
    next: (match: (m: Incoming) => boolean, what: string) => Promise<Incoming>;
    exit: Promise<number | null>;
    toParent: (data: unknown) => void;
    toPort: (id: number, request: unknown) => void;
}

function startWorker(args: string[], env: Record<string, string | undefined>): Worker {
    const child = spawn(process.execPath, ["--input-type=module", "-e", HARNESS, "--", ...args], {
        cwd: root, stdio: ["ignore", "pipe", "pipe", "ipc"], env: { ...env, HEARTH_TEST_WORKER: worker }
    });
    let err = "";
    child.stderr!.on("data", (d: Buffer) => { err += d.toString(); });
    child.stdout!.resume();
    const received: Incoming[] = [];
    const waiters: Array<{ match: (m: Incoming) => boolean; resolve: (m: Incoming) => void }> = [];
    child.on("message", (m: Incoming) => {
        received.push(m);
        for (const w of [...waiters]) if (w.match(m)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(m); }
    });
    const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const next = (match: (m: Incoming) => boolean, what: string) => {
        const seen = received.find(match);
        if (seen != null) return Promise.resolve(seen);
        return new Promise<Incoming>((resolve, reject) => {
            waiters.push({ match, resolve });
            void exit.then((code) => reject(new Error(`the worker exited (${code}) before ${what}; stderr:\n${err}`)));
        });
    };
    return {
        child, received, stderr: () => err, next, exit,
        toParent: (data) => child.send({ via: "parent", data }),
        toPort: (id, request) => child.send({ via: "port", id, data: JSON.stringify(request) })
    };
}

const reply = (m: Incoming): BridgeReply | null => (m.via === "port" ? (JSON.parse(m.data) as BridgeReply) : null);

test("the bundled worker serves the contract over a window's port: state first, results, errors, events; shutdown exits 0", T, async (t) => {
    const dataDir = path.join(dir, "one");
    const env = { ...process.env };
    delete env.HEARTH_DATA_DIR;
    const w = startWorker([`--data-dir=${dataDir}`, "--port=0"], env);
    t.after(() => { if (w.child.exitCode == null) w.child.kill("SIGKILL"); });
    await w.next((m) => m.via === "parent" && m.data.type === "ready", "ready");

    w.toParent({ type: "connect", connectionId: 7 });
    w.toPort(7, { type: "subscribe", stream: "app" });
    const appState = reply(await w.next((m) => reply(m)?.type === "state", "the app state"));
    assert.equal(appState?.type, "state");
    const app = (appState as { state: AppState }).state;
    assert.equal(app.shell, "desktop");
    assert.equal(app.phase, "setup", "a fresh data folder: no cluster yet");

    w.toPort(7, { type: "subscribe", stream: "chats" });
    await w.next((m) => { const r = reply(m); return r?.type === "state" && r.stream === "chats"; }, "the chats state");
    w.toPort(7, { type: "invoke", id: 1, method: "chat.create", params: { title: "from the test" } });
    const created = reply(await w.next((m) => { const r = reply(m); return r?.type === "result" && r.id === 1; }, "chat.create's result"));
    const chat = (created as { result: ChatView }).result;
    assert.equal(chat.title, "from the test");
    const event = reply(await w.next((m) => { const r = reply(m); return r?.type === "event" && r.stream === "chats"; }, "a chats event"));
    assert.deepEqual((event as { event: { type: string; chat?: ChatView } }).event.type, "chatCreated");
    assert.equal((event as { event: { chat: ChatView } }).event.chat.id, chat.id);
    assert.ok(fs.existsSync(path.join(dataDir, "chats")), "the service keeps its data in --data-dir");

    w.toPort(7, { type: "invoke", id: 2, method: "fs.readFile", params: {} });
    const refused = reply(await w.next((m) => { const r = reply(m); return r?.type === "error" && r.id === 2; }, "the refusal"));
    assert.deepEqual((refused as { error: unknown }).error, { message: "unknown request 'fs.readFile'", code: "bad-request" });

    w.toParent({ type: "shutdown" });
    assert.equal(await w.exit, 0, `the worker's stderr:\n${w.stderr()}`);
});

test("a worker without a data folder says why it cannot start and exits 1", T, async (t) => {
    const env = { ...process.env };
    delete env.HEARTH_DATA_DIR;
    const w = startWorker([], env);
    t.after(() => { if (w.child.exitCode == null) w.child.kill("SIGKILL"); });
    const fatal = await w.next((m) => m.via === "parent" && m.data.type === "fatal", "fatal");
    assert.match((fatal as { data: { message: string } }).data.message, /--data-dir/);
    assert.equal(await w.exit, 1);
    assert.ok(!w.received.some((m) => m.via === "parent" && m.data.type === "ready"));
});
