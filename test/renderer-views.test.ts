// The panes as markup, from given stream states: the test ids (and their data attributes) the
// end-to-end tests rely on are where they should be. The components are TSX, which this runner
// does not compile, so esbuild bundles them (with React) into one CommonJS file first.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import type { AppState, ChatsState, DownloadView, ModelState } from "../app/ui-api/contract.ts";
import type { ClusterModel, ClusterViewState, Peer, PeerInventory } from "../app/cluster/cluster-view.ts";
import type { UiState } from "../renderer/state/ui-store.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-renderer-views-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Streams { app?: AppState; cluster?: ClusterViewState | null; model?: ModelState; downloads?: DownloadView[]; chats?: ChatsState }
let render: (streams: Streams, ui: Partial<UiState>) => string;

before(async () => {
    const entry = `
        import { createElement } from "react";
        import { renderToStaticMarkup } from "react-dom/server";
        import { App } from "./renderer/ui/App.tsx";
        import { HearthContext } from "./renderer/ui/hooks.ts";
        import { createHearth } from "./renderer/state/hearth.ts";
        export function render(streams, ui) {
            const api = {
                invoke: () => new Promise(() => {}),
                subscribe(stream, listener) { if (stream in streams) listener({ kind: "state", state: streams[stream] }); return () => {}; }
            };
            const hearth = createHearth(api, {});
            hearth.ui.setState(ui);
            // Server rendering reads zustand's initial state (the server snapshot): make it the state now.
            hearth.streams.getInitialState = hearth.streams.getState;
            hearth.ui.getInitialState = hearth.ui.getState;
            return renderToStaticMarkup(createElement(HearthContext.Provider, { value: hearth }, createElement(App)));
        }`;
    const result = await build({
        stdin: { contents: entry, resolveDir: root, loader: "ts", sourcefile: "views-entry.ts" },
        bundle: true, platform: "node", format: "cjs", jsx: "automatic", write: false, logLevel: "silent",
        define: { "process.env.NODE_ENV": "\"production\"" }
    });
    const file = path.join(dir, "views.cjs");
    fs.writeFileSync(file, result.outputFiles[0]!.text);
    render = (createRequire(import.meta.url)(file) as { render: typeof render }).render;
});

const GB = 1024 ** 3;
const app = (over: Partial<AppState> = {}): AppState => ({
    phase: "running", version: "0.1.0", nodeName: "mac-mini", nodeId: "n1", clusterId: "c1", address: "192.168.1.20:7420", message: "", shell: "web", api: { enabled: false, url: null, error: "" }, ...over
});
const inventory = (over: Partial<PeerInventory> = {}): PeerInventory => ({
    takenAt: 1, os: "macOS 14.5 arm64", distro: "macOS 14.5", hostname: "h", cpu: { model: "Apple M2", cores: 8, threads: 8 },
    ramTotalBytes: 16 * GB, ramFreeBytes: 6 * GB, backend: "metal", gpus: ["Apple M2"], vramTotalBytes: 16 * GB, vramFreeBytes: 6 * GB, unified: true,
    speed: { status: "ready", decodeMsPerLayer: 0.42, headlineShape: "8B", shapes: [], gpu: true, measuredAt: "2026-01-01T00:00:00Z", error: null }, ...over
});
const peer = (nodeId: string, name: string, over: Partial<Peer> = {}): Peer => ({
    nodeId, name, state: "member", relation: "member", address: `${name}.local:7420`, addresses: [], version: null, protocol: null,
    inventory: null, lastSeenMs: null, source: "mdns", link: null, ...over
});
const plan = (stages: [string, string, number, number, number][], tps: number | null) => ({
    stages: stages.map(([nodeId, name, start, end, gpuLayers]) => ({ nodeId, name, layers: [start, end] as [number, number], gpuLayers, memoryBytes: 2 * GB, predictedMsPerToken: 20 })),
    predictedTokensPerSecond: tps
});
const hosted = (over: Partial<ClusterModel> = {}): ClusterModel => ({
    name: "Llama 3.2 3B Instruct", modelSha256: "ab", hostNodeId: "n1", hostName: "mac-mini", state: "ready", message: "", planVersion: 2,
    plan: plan([["n1", "mac-mini", 0, 16, 17], ["n2", "gaming-pc", 16, 28, 12]], 14.2), proposed: null, ...over
});
const cluster = (peers: Peer[], model: ClusterModel | null = null): ClusterViewState => ({
    self: { nodeId: "n1", name: "mac-mini", clusterId: "c1", version: null, protocol: null, address: null },
    peers, discoveryProblem: null, model, inputs: { discovery: [], members: [], joining: [], inventories: [], reachability: [], model: null }
});
const modelState = (over: Partial<ModelState> = {}): ModelState => ({ hosted: null, loading: null, error: "", facts: null, ...over });
const chats = (over: Partial<ChatsState> = {}): ChatsState => ({ chats: [], notice: "", ...over });

/** The opening tags carrying `data-testid="id"`, as attribute maps. */
function tags(html: string, id: string): Record<string, string>[] {
    const out: Record<string, string>[] = [];
    for (const m of html.matchAll(new RegExp(`<[a-z]+((?:\\s+[\\w-]+(?:="[^"]*")?)*)\\s*/?>`, "g"))) {
        const attrs: Record<string, string> = {};
        for (const a of m[1]!.matchAll(/([\w-]+)(?:="([^"]*)")?/g)) attrs[a[1]!] = a[2] ?? "";
        if (attrs["data-testid"] === id) out.push(attrs);
    }
    return out;
}
const count = (html: string, id: string) => tags(html, id).length;

/** The markup from one element with this test id to the next (a card's contents). */
function chunks(html: string, id: string): string[] {
    return html.split(`data-testid="${id}"`).slice(1);
}

test("setup: the name, create and join fields and buttons", { timeout: 10000 }, () => {
    const html = render({ app: app({ phase: "setup", clusterId: null }) }, {});
    for (const id of ["setup-name", "setup-create", "setup-join-code", "setup-join-peer", "setup-join"]) assert.equal(count(html, id), 1, id);
    assert.equal(count(html, "nav-chat"), 0, "no panes before a cluster");
    const starting = render({ app: app({ phase: "starting", message: "joining through 192.168.1.20:7420…" }) }, {});
    assert.match(starting, /joining through 192.168.1.20:7420…/);
    assert.equal(count(starting, "setup-create"), 0);
    const failed = render({ app: app({ phase: "failed", message: "port 7420 is in use; stop the other program" }) }, {});
    assert.match(chunks(failed, "app-error")[0]!, /port 7420 is in use; stop the other program/);
    assert.match(failed, /Leave the cluster…/, "in a cluster: the way back is leaving it");
    assert.doesNotMatch(failed, /Back to setup/);
    const failedOutside = render({ app: app({ phase: "failed", clusterId: null, message: "x" }) }, {});
    assert.match(failedOutside, /Back to setup/);
    assert.equal(count(render({ app: app({ phase: "failed", clusterId: null }) }, { setupAfterFailure: true }), "setup-join"), 1, "back to setup after a failure");
});

test("cluster: invite code and expiry, leave, a card per machine with its state and memory bars", { timeout: 10000 }, () => {
    const peers = [
        peer("n1", "mac-mini", { relation: "self", inventory: inventory() }),
        peer("n2", "gaming-pc", { inventory: inventory({ os: "Windows 11 Pro x64", backend: "cuda", unified: false, ramTotalBytes: 32 * GB, ramFreeBytes: 20 * GB, vramTotalBytes: 12 * GB, vramFreeBytes: 11 * GB, gpus: ["RTX 4070"] }), link: { latencyMs: 0.4, bandwidthMBs: 850, measuredAtMs: 1 } }),
        peer("n3", "old-laptop", { state: "lost", lastSeenMs: 1 }),
        peer("n4", "kitchen-nuc", { state: "discovered", relation: "no-cluster", inventory: inventory({ backend: "cpu", unified: false, vramTotalBytes: 0, vramFreeBytes: 0, gpus: [] }) })
    ];
    const html = render(
        { app: app(), cluster: cluster(peers), model: modelState(), downloads: [], chats: chats() },
        { pane: "cluster", invite: { code: "ABCD-EFGH-JKMN-PQRS", expiresAtMs: Date.now() + 9 * 60_000 + 41_000, joinAddress: "192.168.1.20:7420", inviterName: "mac-mini" } }
    );
    assert.match(html, /data-testid="invite-code"[^>]*>ABCD-EFGH-JKMN-PQRS</, "the code exactly as given");
    assert.match(chunks(html, "invite-expiry")[0]!, /^[^>]*>Valid for one machine; expires in 9:(41|40)/);
    assert.equal(count(html, "invite-button"), 1);
    assert.equal(count(html, "leave-button"), 1);

    const cards = tags(html, "machine-card");
    assert.deepEqual(cards.map((c) => [c["data-name"], c["data-state"]]), [["mac-mini", "member"], ["gaming-pc", "member"], ["old-laptop", "lost"], ["kitchen-nuc", "discovered"]]);
    const [mac, pc, laptop, nuc] = chunks(html, "machine-card");
    // The Mac: unified memory, one bar.
    assert.deepEqual(tags(`<x data-testid="machine-card"${mac}`, "ram-bar").map((b) => [b["data-used-bytes"], b["data-total-bytes"]]), [[String(10 * GB), String(16 * GB)]]);
    assert.equal(count(`<x ${mac}`, "vram-bar"), 0);
    assert.match(mac!, /Unified memory/);
    assert.match(mac!, /Metal/);
    // The PC: RAM and GPU memory, CUDA, its link.
    assert.deepEqual(tags(`<x ${pc}`, "ram-bar")[0], { "data-testid": "ram-bar", class: "membar", "data-used-bytes": String(12 * GB), "data-total-bytes": String(32 * GB) });
    assert.deepEqual(tags(`<x ${pc}`, "vram-bar").map((b) => b["data-used-bytes"]), [String(1 * GB)]);
    assert.match(pc!, /CUDA/);
    assert.match(pc!, /0\.40 ms latency, 850 MB\/s/);
    assert.match(pc!, /0\.42 ms\/layer/);
    assert.match(laptop!, /Is it switched on/);
    assert.equal(count(`<x ${laptop}`, "ram-bar"), 0, "no inventory, no bars");
    assert.match(nuc!, /run <strong>Invite<\/strong> here and enter the code on that machine/);
    assert.match(html, /discovered<\/span><\/dt><dd>seen on the network/, "the legend");
});

test("model: load progress, the error with its advice, facts, downloads, catalogue, the test model", { timeout: 10000 }, () => {
    const downloads: DownloadView[] = [
        { id: "d1", url: "https://huggingface.co/x/resolve/main/a.gguf", fileName: "a.gguf", path: "/m/a.gguf", state: "downloading", bytesDone: GB, bytesTotal: 4 * GB, bytesPerSecond: 20 * 1024 * 1024, etaSeconds: 150, error: "" },
        { id: "d2", url: "https://huggingface.co/x/resolve/main/b.gguf", fileName: "b.gguf", path: "/m/b.gguf", state: "done", bytesDone: GB, bytesTotal: GB, bytesPerSecond: 0, etaSeconds: null, error: "" }
    ];
    const html = render({
        app: app(), cluster: cluster([peer("n1", "mac-mini", { relation: "self" })]), downloads, chats: chats(),
        model: modelState({
            loading: { phase: "uploading", message: "layers 16–27 to gaming-pc", bytesDone: GB, bytesTotal: 2 * GB },
            error: "The cluster needs 3.1 GB more: add a machine or pick a smaller quantization.",
            facts: { fileName: "a.gguf", path: "/m/a.gguf", architecture: "llama", name: "Llama 3.2 3B", parameters: 3.2e9, quantization: "Q4_K_M", sizeBytes: 2 * GB, layers: 28, trainedContext: 131072, testModel: false }
        })
    }, {
        pane: "model",
        catalogue: [
            { id: "s", title: "Small One", sizeClass: "1–3B", architecture: "llama", quantization: "Q4_K_M", sizeBytes: GB, url: "https://h/s.gguf", fits: true, shortfallBytes: 0 },
            { id: "b", title: "Big One", sizeClass: "27B+", architecture: "llama", quantization: "Q4_K_M", sizeBytes: 40 * GB, url: "https://h/b.gguf", fits: false, shortfallBytes: 12 * GB }
        ]
    });
    for (const id of ["open-test-model", "model-path", "model-open", "download-url", "download-start", "load-progress", "model-facts", "model-error"]) assert.equal(count(html, id), 1, id);
    assert.match(html, /random weights — gibberish text, for seeing the pipeline work/i);
    assert.match(chunks(html, "load-progress")[0]!, /layers 16–27 to gaming-pc.*1\.0 GB of 2\.0 GB.*Loading: uploading/);
    assert.match(chunks(html, "model-error")[0]!, /needs 3\.1 GB more: add a machine/);
    assert.match(chunks(html, "model-facts")[0]!, /llama.*3\.2B.*Q4_K_M.*2\.0 GB.*131,072 tokens/);
    assert.equal(count(html, "download-progress"), 1, "progress only for the running download");
    assert.equal(count(html, "download-cancel"), 1);
    assert.match(chunks(html, "download-progress")[0]!, /1\.0 GB of 4\.0 GB.*20\.0 MB\/s.*2 min 30 s left/);
    assert.deepEqual(tags(html, "catalogue-entry").map((e) => e["data-fits"]), ["true", "false"]);
    const [small, big] = chunks(html, "catalogue-entry");
    assert.match(small!, /fits this cluster/);
    assert.match(big!, /needs 12\.0 GB more/);
    assert.ok(html.indexOf("1–3B parameters") < html.indexOf("27B+ parameters"), "grouped by size class, smallest first");

    // While the request runs and before the node reports progress, the progress shows too.
    const starting = render({ app: app(), cluster: cluster([]), model: modelState(), downloads: [], chats: chats() }, { pane: "model", busy: { testModel: true } });
    assert.equal(count(starting, "load-progress"), 1);
    assert.match(chunks(starting, "load-progress")[0]!, /role="progressbar"/);
});

test("placement: the bar's segments by machine and layers, the prediction, the proposed plan, the error", { timeout: 10000 }, () => {
    const peers = [peer("n1", "mac-mini", { relation: "self" }), peer("n2", "gaming-pc")];
    const model = hosted({ proposed: { ...plan([["n1", "mac-mini", 0, 28, 29]], 9.5), reason: "gaming-pc was lost" } });
    const html = render({ app: app(), cluster: cluster(peers, model), model: modelState({ hosted: model }), downloads: [], chats: chats() }, { pane: "placement" });
    assert.equal(count(html, "placement-bar"), 1);
    assert.deepEqual(tags(html, "placement-segment").map((s) => [s["data-name"], s["data-layers"]]), [["mac-mini", "0-16"], ["gaming-pc", "16-28"]]);
    assert.match(chunks(html, "predicted-tps")[0]!, /14\.2 tokens\/s/);
    assert.equal(count(html, "proposed-plan"), 1);
    assert.match(chunks(html, "proposed-plan")[0]!, /gaming-pc was lost/);
    assert.match(chunks(html, "proposed-plan")[0]!, /9\.5 tokens\/s/);
    assert.equal(count(html, "predicted-tps"), 1, "the prediction's id is the plan in force's only");
    assert.match(html, /all on GPU \+ head/);
    assert.match(html, /12 of 12|all on GPU/);
    assert.equal(count(html, "placement-error"), 0);

    // A stale error of the last load does not show while the model is placed.
    const placedAgain = render({ app: app(), cluster: cluster(peers, model), model: modelState({ hosted: model, error: "old: could not place" }), downloads: [], chats: chats() }, { pane: "placement" });
    assert.equal(count(placedAgain, "placement-error"), 0);
    const noneHosted = render({ app: app(), cluster: cluster(peers), model: modelState({ error: "The model needs 21.4 GB; add a machine." }), downloads: [], chats: chats() }, { pane: "placement" });
    assert.match(chunks(noneHosted, "placement-error")[0]!, /needs 21\.4 GB; add a machine\./);

    const failed = hosted({ state: "failed", message: "The model needs 21.4 GB; the members have 14.0 GB free.", plan: { stages: [], predictedTokensPerSecond: null } });
    const bad = render({ app: app(), cluster: cluster(peers), model: modelState({ hosted: failed }), downloads: [], chats: chats() }, { pane: "placement" });
    assert.match(chunks(bad, "placement-error")[0]!, /needs 21\.4 GB; the members have 14\.0 GB free\..*Add a machine/);
    assert.equal(count(bad, "placement-segment"), 0);
});

test("chat: list, messages with role and status, rendered reply text, stats, Stop while streaming", { timeout: 10000 }, () => {
    const stats = { timeToFirstTokenMs: 320, tokensPerSecond: 14.2, tokens: 87, servedBy: ["mac-mini", "gaming-pc"], hostName: "mac-mini", planVersion: 2, stopReason: "eos" };
    const chatsState = chats({ chats: [
        { id: "a", title: "Trip plans", createdAtMs: 1, updatedAtMs: 2, messages: [
            { id: "u1", role: "user", text: "Plan <b>a</b> trip", createdAtMs: 1, status: "done", error: "", stats: null },
            { id: "r1", role: "assistant", text: "**Day 1**: the coast\n\n<script>x</script>", createdAtMs: 2, status: "done", error: "", stats },
            { id: "u2", role: "user", text: "More", createdAtMs: 3, status: "done", error: "", stats: null },
            { id: "r2", role: "assistant", text: "Day 2", createdAtMs: 4, status: "streaming", error: "", stats: null }
        ] },
        { id: "b", title: "Older", createdAtMs: 0, updatedAtMs: 0, messages: [] }
    ] });
    const model = hosted();
    const html = render({ app: app(), cluster: cluster([]), model: modelState({ hosted: model }), downloads: [], chats: chatsState }, { pane: "chat" });
    assert.equal(count(html, "chat-new"), 1);
    assert.equal(count(html, "chat-list-item"), 2);
    assert.deepEqual(tags(html, "message").map((m) => [m["data-role"], m["data-status"]]), [["user", "done"], ["assistant", "done"], ["user", "done"], ["assistant", "streaming"]]);
    const texts = chunks(html, "message-text");
    assert.match(texts[0]!, /^[^>]*>Plan &lt;b&gt;a&lt;\/b&gt; trip</, "the user's text as typed");
    assert.match(texts[1]!, /^[^>]*><p><strong>Day 1<\/strong>: the coast<\/p><p class="md-raw">&lt;script&gt;x&lt;\/script&gt;<\/p><\/div>/);
    assert.equal(count(html, "reply-stats"), 1);
    assert.match(chunks(html, "reply-stats")[0]!, /320 ms.*14\.2 tokens\/s.*87 tokens.*mac-mini → gaming-pc/);
    assert.equal(count(html, "chat-stop"), 1, "Stop while a reply streams");
    assert.equal(count(html, "chat-send"), 0);
    assert.equal(count(html, "chat-input"), 1);

    const idle = render({ app: app(), cluster: cluster([]), model: modelState({ hosted: model }), downloads: [], chats: chats({ chats: [chatsState.chats[1]!] }) }, { pane: "chat" });
    assert.equal(count(idle, "chat-send"), 1);
    assert.equal(count(idle, "chat-stop"), 0);
    assert.doesNotMatch(idle, /No model is loaded/);

    const none = render({ app: app(), cluster: cluster([]), model: modelState(), downloads: [], chats: chats() }, { pane: "chat" });
    assert.match(none, /No model is loaded.*Open one in the Model pane/);
    assert.match(tags(none, "chat-send")[0]!["disabled"] ?? "missing", /^$/, "Send is disabled without a model");
});

test("navigation and glance; the connection banner only while the connection is down", { timeout: 10000 }, () => {
    const peers = [peer("n1", "mac-mini", { relation: "self" }), peer("n2", "gaming-pc"), peer("n3", "old-laptop", { state: "lost" })];
    const streams = { app: app(), cluster: cluster(peers), model: modelState({ hosted: hosted() }), downloads: [], chats: chats() };
    const html = render(streams, {});
    for (const id of ["nav-chat", "nav-cluster", "nav-model", "nav-placement"]) assert.equal(count(html, id), 1, id);
    assert.match(chunks(html, "nav-cluster")[0]!, /2 members · 1 lost/);
    assert.match(chunks(html, "nav-model")[0]!, /Llama 3\.2 3B Instruct/);
    assert.equal(count(html, "connection-banner"), 0);
    const lost = render(streams, { connection: { status: "lost", failedAttempts: 0, nextAttemptAtMs: null } });
    assert.match(chunks(lost, "connection-banner")[0]!, /Connection to this machine(&#x27;|')s node lost — reconnecting…/);
    assert.equal(count(render(streams, { connection: { status: "connecting", failedAttempts: 0, nextAttemptAtMs: null } }), "connection-banner"), 0, "not on the first try");
    assert.equal(count(render({}, { connection: { status: "connecting", failedAttempts: 2, nextAttemptAtMs: null } }), "connection-banner"), 1, "after failed first tries");
});
