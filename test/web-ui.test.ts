// The web UI's bridge: the renderer's files and the UI contract over a WebSocket, with the login
// token when one is required, the Origin check, and messages held to the contract. The API behind
// it here is a small stand-in that records calls: the bridge is what is under test (the e2e tests
// drive the real one against real nodes).
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { WebSocket } from "ws";
import { UiError, type HearthApi, type UiStreamMessage, type UiStreamName } from "../app/ui-api/contract.ts";
import { WebUi, WEB_UI_CSP } from "../app/ui-api/web-ui.ts";
import { tempDir } from "./helpers/models.ts";

const T = { timeout: 20000 };
const dir = tempDir("web-ui");
const calls: Array<[string, unknown]> = [];
const listeners = new Map<string, (m: UiStreamMessage<UiStreamName>) => void>();
const api: HearthApi = {
    async invoke(method, params) {
        calls.push([method, params]);
        if (method === "cluster.invite") throw new UiError("this machine is in no cluster yet", "not-ready");
        return { echoed: params } as never;
    },
    subscribe(stream, listener) {
        listeners.set(stream, listener as never);
        listener({ kind: "state", state: { phase: "setup" } as never });
        return () => listeners.delete(stream);
    }
};
let open: WebUi;
let locked: WebUi;

before(async () => {
    fs.writeFileSync(path.join(dir, "index.html"), "<!doctype html><title>Hearth</title>");
    fs.writeFileSync(path.join(dir, "app.js"), "console.log(1)");
    fs.writeFileSync(path.join(path.dirname(dir), "secret.txt"), "no");
    open = await WebUi.start({ api, rendererDir: dir, port: 0 });
    locked = await WebUi.start({ api, rendererDir: dir, port: 0, token: "s3cret-token" });
});
after(async () => {
    await open.dispose();
    await locked.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
});

function socket(ui: WebUi, query = "", headers: Record<string, string> = {}): Promise<WebSocket> {
    return new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${ui.port}/api${query}`, { headers });
        ws.once("open", () => resolve(ws));
        ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
        ws.once("error", reject);
    });
}
function next(ws: WebSocket): Promise<Record<string, unknown>> {
    return new Promise((resolve) => ws.once("message", (d) => resolve(JSON.parse(d.toString()) as Record<string, unknown>)));
}

test("serves the renderer with a strict CSP; nothing outside its folder", T, async () => {
    const page = await fetch(`http://127.0.0.1:${open.port}/`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get("content-security-policy"), WEB_UI_CSP);
    assert.match(page.headers.get("content-type")!, /text\/html/);
    assert.equal((await fetch(`http://127.0.0.1:${open.port}/app.js`)).headers.get("content-type"), "text/javascript; charset=utf-8");
    for (const p of ["/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt", "/missing.js"]) assert.equal((await fetch(`http://127.0.0.1:${open.port}${p}`)).status, 404, p);
    assert.equal((await fetch(`http://127.0.0.1:${open.port}/`, { method: "POST" })).status, 405);
});

test("requests and streams over the WebSocket: state first, then events; errors keep their code; unknown methods are refused", T, async () => {
    const ws = await socket(open);
    ws.send(JSON.stringify({ type: "subscribe", stream: "app" }));
    assert.deepEqual(await next(ws), { type: "state", stream: "app", state: { phase: "setup" } });
    listeners.get("app")!({ kind: "event", event: { type: "changed", state: { phase: "running" } } as never });
    assert.deepEqual(await next(ws), { type: "event", stream: "app", event: { type: "changed", state: { phase: "running" } } });
    ws.send(JSON.stringify({ type: "invoke", id: 7, method: "cluster.create", params: { name: "den" } }));
    assert.deepEqual(await next(ws), { type: "result", id: 7, result: { echoed: { name: "den" } } });
    ws.send(JSON.stringify({ type: "invoke", id: 8, method: "cluster.invite", params: {} }));
    assert.deepEqual(await next(ws), { type: "error", id: 8, error: { message: "this machine is in no cluster yet", code: "not-ready" } });
    ws.send(JSON.stringify({ type: "invoke", id: 9, method: "process.exit", params: {} }));
    assert.deepEqual(await next(ws), { type: "error", id: 9, error: { message: "unknown request 'process.exit'", code: "bad-request" } });
    assert.equal(calls.some(([m]) => m === "process.exit"), false, "an unknown method never reaches the API");
    const closed = new Promise<number>((r) => ws.once("close", (code) => r(code)));
    ws.send("not json");
    assert.equal(await closed, 1003);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(listeners.has("app"), false, "a closed socket's subscriptions end");
});

test("a WebSocket from another origin is refused, a sandboxed or file:// page (Origin null) too; a huge message closes the socket", T, async () => {
    await assert.rejects(socket(open, "", { Origin: "http://evil.example" }), /HTTP 403/);
    await assert.rejects(socket(open, "", { Origin: "null" }), /HTTP 403/);
    const ws = await socket(open, "", { Origin: `http://127.0.0.1:${open.port}` });
    const closed = new Promise<number>((r) => ws.once("close", (code) => r(code)));
    ws.send(JSON.stringify({ type: "invoke", id: 1, method: "chat.send", params: { text: "x".repeat(2 * 1024 * 1024) } }));
    assert.equal(await closed, 1009, "over the 1 MiB limit");
});

test("without a token, only a loopback Host is served: a rebound name (another site resolving to 127.0.0.1) is refused", T, async () => {
    const http = await import("node:http");
    const get = (host: string) => new Promise<number>((resolve, reject) => {
        http.get({ host: "127.0.0.1", port: open.port, path: "/", headers: { Host: host } }, (res) => { res.resume(); resolve(res.statusCode!); }).on("error", reject);
    });
    assert.equal(await get(`127.0.0.1:${open.port}`), 200);
    assert.equal(await get(`localhost:${open.port}`), 200);
    assert.equal(await get(`evil.example:${open.port}`), 403);
    await assert.rejects(socket(open, "", { Host: `evil.example:${open.port}`, Origin: `http://evil.example:${open.port}` }), /HTTP 403/);
});

test("with a token: 401 without it, the page with it sets a cookie, the socket takes either", T, async () => {
    assert.match(locked.url, /\/\?token=s3cret-token$/);
    const denied = await fetch(`http://127.0.0.1:${locked.port}/`);
    assert.equal(denied.status, 401);
    assert.match(await denied.text(), /needs its login token/);
    assert.equal((await fetch(`http://127.0.0.1:${locked.port}/?token=wrong`)).status, 401);
    const page = await fetch(`http://127.0.0.1:${locked.port}/?token=s3cret-token`);
    assert.equal(page.status, 200);
    const cookie = page.headers.get("set-cookie")!;
    assert.match(cookie, /hearth_token=s3cret-token; HttpOnly; SameSite=Strict/);
    assert.equal((await fetch(`http://127.0.0.1:${locked.port}/app.js`, { headers: { cookie: cookie.split(";")[0]! } })).status, 200);
    await assert.rejects(socket(locked), /HTTP 401/);
    (await socket(locked, "?token=s3cret-token")).close();
    (await socket(locked, "", { cookie: cookie.split(";")[0]! })).close();
});
