// The engine's side of the UI contract against real nodes: setup → create → invite → a machine
// joins with the code → the test model is hosted across both → a chat streams deltas and ends
// with its stats → Stop → leave. The same object the desktop worker and the web UI serve.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { UiService } from "../app/ui-api/ui-service.ts";
import { applyUiEvent, type UiStreamName, type UiStreamState } from "../app/ui-api/contract.ts";
import { tempDir } from "./helpers/models.ts";
import { runHearth } from "./helpers/nodes.ts";
import { spawn, type ChildProcess } from "node:child_process";
import { bin } from "./helpers/nodes.ts";

const dir = tempDir("ui-service");
const children: ChildProcess[] = [];
let service: UiService | null = null;
after(async () => {
    for (const c of children) c.kill("SIGKILL");
    await service?.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
});

/** Mirrors a stream as the renderer does: state first, then folded events. */
function mirror<S extends UiStreamName>(api: UiService, stream: S): { get: () => UiStreamState<S>; events: unknown[] } {
    let state: UiStreamState<S> | undefined;
    const events: unknown[] = [];
    api.subscribe(stream, (m) => {
        if (m.kind === "state") state = m.state;
        else { events.push(m.event); state = applyUiEvent(stream, state!, m.event); }
    });
    return { get: () => state!, events };
}

async function until(what: string, f: () => boolean | Promise<boolean>, ms = 30000): Promise<void> {
    const t0 = Date.now();
    while (!(await f())) {
        if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
        await new Promise((r) => setTimeout(r, 100));
    }
}

test("setup, create, invite, join, the test model across two machines, a streamed chat with stats, Stop, leave", { timeout: 240000 }, async () => {
    service = await UiService.start({ dataDir: path.join(dir, "alpha"), shell: "web", name: "alpha", host: "127.0.0.1", port: 0, discovery: false, measureSpeed: false, node: { memoryLimitBytes: 160 * 1024 * 1024 } });
    const app = mirror(service, "app");
    const cluster = mirror(service, "cluster");
    const model = mirror(service, "model");
    const chats = mirror(service, "chats");
    assert.equal(app.get().phase, "setup", "a machine in no cluster starts in setup");
    await assert.rejects(service.invoke("cluster.invite", {}), /in no cluster yet: create one, or join one/);
    await assert.rejects(service.invoke("cluster.join", { code: "not-a-code" }), (e: Error & { code?: string }) => e.code === "bad-request");

    const created = await service.invoke("cluster.create", { name: "alpha" });
    assert.equal(created.phase, "running");
    assert.equal(app.get().phase, "running");
    assert.ok(app.get().address != null);
    await assert.rejects(service.invoke("cluster.create", {}), /in a cluster already/);

    const invite = await service.invoke("cluster.invite", {});
    assert.match(invite.code, /^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);
    assert.ok(invite.expiresAtMs > Date.now());
    const beta = spawn(process.execPath, [bin, "node", "--name", "beta", "--data-dir", path.join(dir, "beta"), "--host", "127.0.0.1", "--port", "0", "--no-discovery", "--no-speed-test",
        "--memory-limit", String(160 * 1024 * 1024), "--join", invite.code, "--peer", invite.joinAddress], { stdio: ["ignore", "pipe", "pipe"] });
    children.push(beta);
    await until("beta is a member in the view", () => cluster.get()?.peers.some((p) => p.name === "beta" && p.state === "member") === true);

    // The test model (212 MB at 4096 tokens) does not fit one 160 MB machine: it is placed across both.
    const loaded = await service.invoke("model.openTestModel", {});
    assert.equal(loaded.loading, null);
    assert.equal(loaded.facts?.testModel, true);
    assert.equal(loaded.facts?.architecture, "llama");
    await until("the view shows the plan", () => (model.get().hosted?.plan.stages.length ?? 0) === 2);
    assert.deepEqual(model.get().hosted!.plan.stages.map((s) => s.name).sort(), ["alpha", "beta"]);

    // The OpenAI-compatible API: a setting, off by default, kept in the data dir.
    assert.deepEqual(app.get().api, { enabled: false, url: null, error: "" });
    const on = await service.invoke("settings.setApi", { enabled: true, port: 0 });
    assert.equal(on.api.enabled, true);
    assert.match(on.api.url ?? "", /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const models = await (await fetch(`${on.api.url}/models`)).json() as { data: Array<{ id: string }> };
    assert.deepEqual(models.data.map((m) => m.id), ["hearth-test-model.gguf"], "it serves the cluster's model");
    assert.equal(JSON.parse(fs.readFileSync(path.join(dir, "alpha", "settings.json"), "utf8")).api.enabled, true);
    const off = await service.invoke("settings.setApi", { enabled: false });
    assert.deepEqual(off.api, { enabled: false, url: null, error: "" });
    await assert.rejects(fetch(`${on.api.url}/models`), "it stopped listening");
    await assert.rejects(service.invoke("settings.setApi", { enabled: "yes" } as never), /'enabled' must be true or false/);

    const chat = await service.invoke("chat.create", {});
    await service.invoke("chat.send", { chatId: chat.id, text: "Hello there", maxTokens: 24 });
    await until("the reply ends", () => chats.get().chats[0]?.messages.at(-1)?.status !== "streaming");
    const reply = chats.get().chats[0]!.messages.at(-1)!;
    assert.equal(reply.status, "done", reply.error);
    const deltas = chats.events.filter((e) => (e as { type: string }).type === "delta") as Array<{ text: string }>;
    assert.ok(deltas.length > 1, "the reply came in as deltas, not whole");
    assert.equal(deltas.map((d) => d.text).join(""), reply.text);
    assert.ok(reply.stats != null && reply.stats.tokens > 0 && reply.stats.tokensPerSecond > 0);
    assert.deepEqual([...reply.stats.servedBy].sort(), ["alpha", "beta"], "which machines computed it");
    assert.equal(chats.get().chats[0]!.title, "Hello there", "a new chat is named after its first message");

    // Stop: the reply ends as stopped, and nothing is left on the stages.
    await service.invoke("chat.send", { chatId: chat.id, text: "Go on, at length", maxTokens: 3000 });
    await until("text streams", () => (chats.get().chats[0]!.messages.at(-1)!.text.length > 0));
    await service.invoke("chat.stop", { chatId: chat.id });
    await until("the reply ends", () => chats.get().chats[0]!.messages.at(-1)!.status !== "streaming");
    const stopped = chats.get().chats[0]!.messages.at(-1)!;
    assert.equal(stopped.status, "stopped", `${stopped.status} ${stopped.error} ${stopped.text.length} chars`);
    await assert.rejects(service.invoke("chat.send", { chatId: chat.id, text: "   " }), /empty/);

    // Another member removes this machine: its node stops, the UI says why, and Leave takes it back to setup.
    const removal = await runHearth(["remove", "alpha", "--data-dir", path.join(dir, "beta")]);
    assert.equal(removal.code, 0, removal.stderr);
    await until("this machine hears it was removed", () => app.get().phase === "failed", 30000);
    assert.match(app.get().message, /removed from its cluster by another member/);
    assert.equal(service.runningNode, null);
    assert.equal((await service.invoke("cluster.leave", {})).phase, "setup");
    assert.equal(fs.existsSync(path.join(dir, "alpha", "membership.json")), false, "the data dir forgot the cluster");

    // A new cluster, then Leave from a running node.
    assert.equal((await service.invoke("cluster.create", {})).phase, "running");
    const left = await service.invoke("cluster.leave", {});
    assert.equal(left.phase, "setup");
    assert.equal(cluster.get(), null);
    assert.equal(fs.existsSync(path.join(dir, "alpha", "membership.json")), false, "the data dir forgot the cluster");
    const peers = await runHearth(["peers", "--data-dir", path.join(dir, "alpha")]);
    assert.notEqual(peers.code, 0);
});
