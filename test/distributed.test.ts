// Real gRPC between real processes: three nodes on 127.0.0.1 and a coordinator in this process.
// Exactness with default options, schedules users produce, failures that stay with their
// sequence, and nothing leaked when a coordinator, an upload or a connect dies midway.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { Tokenizer } from "../app/model/tokenizer.ts";
import { getLlamaInstance } from "../app/native/llama.ts";
import { connectPipeline, type ConnectOptions } from "../app/coordinator/connect.ts";
import type { RemotePipeline } from "../app/coordinator/remote-pipeline.ts";
import { LocalPipeline } from "../app/engine/local-pipeline.ts";
import { generate } from "../app/engine/generate.ts";
import { ensureStageFiles, fileSha256 } from "../app/model/stage-cache.ts";
import { parseLayerRanges } from "../app/stage/slice.ts";
import { SMALL, buildModel, tempDir } from "./helpers/models.ts";
import { startNode, stopNode, terminateNode, type NodeProcess } from "./helpers/nodes.ts";
import { enroll, memberClient, testCoordinator } from "./helpers/test-cluster.ts";
import { referenceGreedy } from "./helpers/reference.ts";
import { testGpuLayers } from "./helpers/gpu.ts";
import { greedyTokens, delay } from "./helpers/generation.ts";
import { CHAT_PROMPTS, afterTokens, concurrentChats, scheduleFixture, staggeredChats } from "./helpers/scenarios.ts";
import { startProxy } from "./helpers/tcp-proxy.ts";

const GEN = 12;
const CONTEXT = 256;
const PROMPTS = CHAT_PROMPTS;
const dir = tempDir("dist");
const coordDir = path.join(dir, "coordinator");
const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "bin", "hearth.mjs");
let nodes: NodeProcess[] = [];

before(async () => {
    nodes = await Promise.all(["alpha", "beta", "gamma"].map((n) => startNode(n, path.join(dir, `node-${n}`), ["--lease-ms", "2000"])));
});
after(async () => {
    await Promise.all(nodes.map(stopNode));
    fs.rmSync(dir, { recursive: true, force: true });
});

/** Default stage options but a small context (and room for the schedules' four chats), on the GPU when this machine has one (as the reference). */
const stageOpts = { contextSize: CONTEXT, maxSequences: 4, gpuLayers: await testGpuLayers() };
async function connect(model: string, split: string | "auto", layers: number, extra: Partial<ConnectOptions> = {}) {
    return connectPipeline({
        modelPath: model, peers: nodes.map((n) => n.address), layers: split === "auto" ? "auto" : parseLayerRanges(split, layers), cluster: await testCoordinator(),
        dataDir: coordDir, stage: stageOpts, ...extra
    });
}
async function promptTokens(model: string, texts: string[]) {
    const tok = await Tokenizer.load(model);
    const out = texts.map((t) => tok.encode(t));
    await tok.dispose();
    return out;
}
async function stagesOn(p: RemotePipeline) { return (await p.nodeInfos()).map((i) => i.stages.filter((s) => s.pipelineId === p.pipelineId)); }
async function until(what: string, fn: () => Promise<boolean>, ms = 15000) {
    const t0 = Date.now();
    while (!(await fn())) {
        if (Date.now() - t0 > ms) throw new Error(`timed out waiting until ${what}`);
        await delay(100);
    }
}
/** `hearth generate` through the three nodes as a child process, once it streams text. */
async function streamingCoordinator(model: string) {
    await enroll(path.join(dir, "dying"), "dying-coordinator");
    const child = spawn(process.execPath, [bin, "generate", "--model", model, "--peers", nodes.map((n) => n.address).join(","), "--layers", "0-2,2-4,4-6",
        "--prompt", "Hello there", "--max-tokens", "4000", "--context-size", "4096", "--greedy", "--data-dir", path.join(dir, "dying")],
    { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => { out += d.toString(); });
    await until("the coordinator streams text", async () => out.length > 20, 60000);
    return child;
}
async function nodeStages(n: NodeProcess) {
    const c = await memberClient(n.address);
    try { await c.connect(); return (await c.getInfo()).stages; } finally { c.close(); }
}

for (const [label, spec, split] of [
    ["llama f32 untied", { arch: "llama", vocab: "llama-spm", layers: 5, type: "f32", tied: false }, "0-1,1-4,4-5"],
    ["qwen2 f32 tied", { arch: "qwen2", vocab: "qwen2", layers: 4, type: "f32", tied: true }, "0-2,2-3,3-4"]
] as const) {
    describe(`3 nodes, ${label}, split ${split}, default options`, () => {
        let model = "";
        let prompts: number[][] = [];
        let refs: number[][] = [];
        before(async () => {
            model = await buildModel(dir, label.replace(/\W+/g, "_"), { ...spec, ...SMALL });
            prompts = await promptTokens(model, PROMPTS);
            refs = [];
            for (const p of prompts) refs.push(await referenceGreedy(model, p, GEN, { contextSize: CONTEXT }));
        });

        test("greedy tokens equal node-llama-cpp and generate --split; only stage files reach the nodes; the second run uses the caches", { timeout: 120000 }, async () => {
            const first = await connect(model, split, spec.layers);
            try {
                assert.deepEqual(await greedyTokens(first, prompts[0]!, GEN), refs[0]);
                assert.ok(first.stages.every((s) => s.bytesUploaded > 0), "the first run sends every stage file");
            } finally {
                await first.dispose();
            }
            const modelBytes = fs.statSync(model).size;
            const modelSha = await fileSha256(model, coordDir);
            for (const n of nodes) {
                const files = fs.readdirSync(n.dataDir, { recursive: true }).map(String).filter((f) => f.endsWith(".gguf")).map((f) => path.join(n.dataDir, f));
                for (const f of files) {
                    assert.ok(fs.statSync(f).size < modelBytes, `${f} is a stage, smaller than the model`);
                    assert.notEqual(await fileSha256(f, n.dataDir), modelSha, `node ${n.name} never holds the model file`);
                }
            }
            const local = await LocalPipeline.load((await ensureStageFiles(model, parseLayerRanges(split, spec.layers), coordDir)).map((s) => s.path), { contextSize: CONTEXT, maxSequences: 1 });
            try {
                assert.deepEqual(await greedyTokens(local, prompts[1]!, GEN), refs[1], "generate --split (in-process) with default options");
            } finally {
                await local.dispose();
            }
            const second = await connect(model, split, spec.layers);
            try {
                assert.deepEqual(second.stages.map((s) => s.bytesUploaded), [0, 0, 0], "no bytes transferred on the second run");
                assert.deepEqual(await greedyTokens(second, prompts[1]!, GEN), refs[1]);
                await concurrentChats(second, prompts, refs, GEN);
            } finally {
                await second.dispose();
            }
        });
    });
}

describe("3 nodes, llama q8_0 (quantized: sequences share llama.cpp batches)", () => {
    let model = "";
    let prompts: number[][] = [];
    let refs: number[][] = [];
    before(async () => { ({ model, prompts, refs } = await scheduleFixture(dir, "q8", CONTEXT)); });

    test("staggered chats (different starts, ends and prompt lengths; a freed slot reused while others decode) are each exact, and stages batched them", { timeout: 180000 }, async () => {
        const p = await connect(model, "0-1,1-3,3-4", 4);
        try {
            await staggeredChats(p, prompts, refs);
            await concurrentChats(p, prompts, refs, 16);
            const stages = (await stagesOn(p)).map((s) => s[0]!);
            assert.ok(stages.every((s) => s.batchesExactly === (process.arch === "x64")));
            if (process.arch === "x64") assert.ok(stages.some((s) => s.batchedSequences > s.batches), `some batch held several sequences: ${JSON.stringify(stages.map((s) => [s.batches, s.batchedSequences]))}`);
        } finally {
            await p.dispose();
        }
    });

    test("a long prompt in many chunks is flow-controlled (never trips the queue bound) and exact", { timeout: 180000 }, async () => {
        const tok = await Tokenizer.load(model);
        const long = tok.encode(Array.from({ length: 70 }, (_, i) => `Sentence number ${i} says something.`).join(" "));
        await tok.dispose();
        assert.ok(long.length > 300, `${long.length} tokens`);
        const ref = await referenceGreedy(model, long, 6, { contextSize: 1024 });
        const p = await connect(model, "0-1,1-3,3-4", 4, { stage: { contextSize: 1024, maxSequences: 2, batchSize: 8 } });
        try {
            const r = await generate(p, { promptTokens: long, maxTokens: 6, sampler: { temperature: 0 } }).result;
            assert.equal(r.stopReason, "maxTokens", r.error?.message);
            assert.deepEqual(r.tokens, ref, `${Math.ceil(long.length / 8)} prompt chunks of 8 tokens`);
        } finally {
            await p.dispose();
        }
    });
});

describe("control and failure", () => {
    let model = "";
    let prompt: number[] = [];
    let ref: number[] = [];
    before(async () => {
        model = await buildModel(dir, "ctl", { arch: "llama", vocab: "llama-spm", layers: 6, type: "f32", tied: false, ...SMALL });
        [prompt] = await promptTokens(model, [PROMPTS[0]!]) as [number[]];
        ref = await referenceGreedy(model, prompt, GEN, { contextSize: CONTEXT });
    });

    test("cancelling mid-generation, or a consumer that stops reading, frees the sequence on every stage", { timeout: 60000 }, async () => {
        const p = await connect(model, "0-1,1-3,3-6", 6);
        try {
            const controller = new AbortController();
            const g = generate(p, { promptTokens: prompt, maxTokens: 200, signal: controller.signal });
            await afterTokens(g, 3);
            assert.deepEqual((await stagesOn(p)).map((s) => s[0]!.liveSequences.length), [1, 1, 1], "the sequence is live on every stage while it runs");
            controller.abort();
            const r = await g.result;
            assert.equal(r.stopReason, "aborted");
            await until("every stage freed the cancelled sequence", async () => (await stagesOn(p)).every((s) => s[0]!.liveSequences.length === 0));
            // A consumer that reads three tokens and walks away: the generation ends by itself and frees its slot.
            const walkAway = generate(p, { promptTokens: prompt, maxTokens: 20 });
            await afterTokens(walkAway, 3);
            await until("the abandoned generation's slot is free", async () => p.sequences.freeCount === p.shape.maxSequences && (await stagesOn(p)).every((s) => s[0]!.liveSequences.length === 0));
        } finally {
            await p.dispose();
        }
    });

    test("placement by memory: the node with the most free memory gets the most layers, and every limit holds", { timeout: 90000 }, async () => {
        const mb = 1024 * 1024;
        const big = await startNode("big", path.join(dir, "node-big"), ["--memory-limit", String(600 * mb)]);
        const small1 = await startNode("small1", path.join(dir, "node-small1"), ["--memory-limit", String(200 * mb)]);
        const small2 = await startNode("small2", path.join(dir, "node-small2"), ["--memory-limit", String(200 * mb)]);
        try {
            const p = await connectPipeline({ modelPath: model, peers: [small1.address, big.address, small2.address], layers: "auto", cluster: await testCoordinator(), dataDir: coordDir, stage: { contextSize: CONTEXT, maxSequences: 1 } });
            try {
                const counts = p.stages.map((s) => s.range.end - s.range.start);
                assert.deepEqual(counts, [1, 4, 1], "layers follow free memory (200 MB : 600 MB : 200 MB)");
                const infos = await p.nodeInfos();
                for (const info of infos) assert.ok(info.reservedMemoryBytes <= info.totalMemoryBytes, `${info.name} stays within its limit`);
                assert.deepEqual(await greedyTokens(p, prompt, GEN), ref);
            } finally {
                await p.dispose();
            }
        } finally {
            await Promise.all([big, small1, small2].map(stopNode));
        }
    });

    test("a stage that does not fit is refused before any transfer, with the node's own figures; the failed connect leaves nothing loaded", { timeout: 60000 }, async () => {
        const tiny = await startNode("tiny", path.join(dir, "node-tiny"), ["--memory-limit", String(2 * 1024 * 1024)]);
        try {
            await assert.rejects(connectPipeline({
                modelPath: model, peers: [nodes[0]!.address, tiny.address], layers: parseLayerRanges("0-1,1-6", 6), cluster: await testCoordinator(), dataDir: coordDir, stage: stageOpts
            }), /node 'tiny' has 2\.00 MB free; layers 1-6 need .*MB \(.* more\) — add a machine/);
            assert.equal(fs.existsSync(path.join(dir, "node-tiny", "stages")), false, "nothing was transferred");
            assert.deepEqual(await nodeStages(nodes[0]!), [], "the stage prepared on the other node was closed at once");
        } finally {
            await stopNode(tiny);
        }
    });

    test("a stage sent with more GPU layers than the node's GPU can hold is refused before any transfer, naming what it has", { timeout: 60000 }, async () => {
        const gpu = (await getLlamaInstance()).gpu;
        const small = await startNode("small-gpu", path.join(dir, "node-small-gpu"), ["--gpu-memory-limit", String(1024 * 1024)]);
        try {
            await assert.rejects(connectPipeline({
                modelPath: model, peers: [nodes[0]!.address, small.address], layers: parseLayerRanges("0-1,1-6", 6), stageGpuLayers: [0, 2],
                cluster: await testCoordinator(), dataDir: coordDir, stage: stageOpts
            }), gpu === false
                ? /node 'small-gpu' has no GPU that llama.cpp can use \(backend cpu\); layers 1-6 were sent with 2 GPU layers — plan again/
                : /node 'small-gpu' has 1\.00 MB of GPU memory free; layers 1-6 with 2 on the GPU need .* there \(.* more\) — put fewer of its layers on the GPU/);
            assert.equal(fs.existsSync(path.join(dir, "node-small-gpu", "stages")), false, "nothing was transferred");
            assert.deepEqual(await nodeStages(nodes[0]!), [], "the stage prepared on the other node was closed at once");
        } finally {
            await stopNode(small);
        }
    });

    test("f16 activations: half the bytes per hop, same greedy tokens on this model", { timeout: 60000 }, async () => {
        const p = await connect(model, "0-3,3-6", 6, { activations: "f16", peers: [nodes[0]!.address, nodes[1]!.address] });
        try {
            const tokens = await greedyTokens(p, prompt, GEN);
            const same = tokens.filter((t, i) => t === ref[i]).length;
            console.log(`f16 activations: ${same}/${GEN} greedy tokens equal the f32 reference`);
            assert.ok(same >= GEN / 2, `f16 keeps most tokens: ${same}/${GEN}`);
        } finally {
            await p.dispose();
        }
        const { loadAddon } = await import("../app/native/addon.ts");
        const { encodeHidden, decodeHidden } = await import("../app/node/activations.ts");
        const addon = await loadAddon();
        const values = Float32Array.from({ length: 64 * 8 }, (_, i) => Math.sin(i) * 20);
        const f16 = encodeHidden(addon, values, "F16");
        assert.equal(f16.length, encodeHidden(addon, values, "F32").length / 2, "f16 is half the bytes of f32");
        const back = decodeHidden(addon, f16, "F16");
        const relErr = Math.max(...values.map((v, i) => Math.abs(back[i]! - v) / Math.max(1, Math.abs(v))));
        assert.ok(relErr < 1e-3, `f16 round trip relative error ${relErr}`);
    });

    test("a node killed mid-generation fails the generation naming it within 10 s; the others keep serving", { timeout: 90000 }, async () => {
        const victim = await startNode("victim", path.join(dir, "node-victim"));
        const p = await connectPipeline({ modelPath: model, peers: [nodes[0]!.address, victim.address, nodes[2]!.address], layers: parseLayerRanges("0-1,1-2,2-6", 6), cluster: await testCoordinator(), dataDir: coordDir, stage: stageOpts });
        try {
            const g = generate(p, { promptTokens: prompt, maxTokens: 200 });
            await afterTokens(g, 3);
            const killedAt = performance.now();
            victim.child.kill("SIGKILL");
            const r = await g.result;
            assert.equal(r.stopReason, "failed");
            assert.match(r.error!.message, /victim/);
            assert.ok(performance.now() - killedAt < 10000);
            assert.ok(r.tokens.length >= 3 && r.tokens.length < 200);
            // Queued and later generations are rejected, not left waiting.
            const later = await generate(p, { promptTokens: prompt, maxTokens: 3 }).result;
            assert.equal(later.stopReason, "failed");
        } finally {
            await p.dispose();
            await stopNode(victim);
        }
        const again = await connect(model, "0-1,1-2,2-6", 6);
        try {
            assert.deepEqual(await greedyTokens(again, prompt, 4), ref.slice(0, 4));
        } finally {
            await again.dispose();
        }
    });

    test("a coordinator that dies mid-generation leaks nothing: every node frees its stage after the lease", { timeout: 90000 }, async () => {
        const child = await streamingCoordinator(model);
        const held = await Promise.all(nodes.map(nodeStages));
        assert.ok(held.every((s) => s.length === 1 && s[0]!.liveSequences.length === 1), "each node holds a stage with a live sequence");
        child.kill("SIGKILL");
        await until("every node freed the dead coordinator's stage", async () => (await Promise.all(nodes.map(nodeStages))).every((s) => s.length === 0), 20000);
    });

    test("Ctrl-C during a generation releases everything on every node at once", { timeout: 90000 }, async () => {
        const child = await streamingCoordinator(model);
        const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
        child.kill("SIGINT");
        assert.equal(await exited, 130);
        // Released by the coordinator itself, well before any lease would run out.
        assert.deepEqual(await Promise.all(nodes.map(nodeStages)), [[], [], []]);
    });

    test("uploads: resumed after a cut; an uploader that dies mid-transfer frees the node's file and lock; a refusal fails the call cleanly; a damaged file is DATA_LOSS", { timeout: 120000 }, async () => {
        const fresh = await startNode("fresh", path.join(dir, "node-fresh"));
        try {
            const [stage] = await ensureStageFiles(model, [{ start: 0, end: 6 }], coordDir);
            const bytes = fs.statSync(stage!.path).size;
            const header = { modelSha256: await fileSha256(model, coordDir), layers: { start: 0, end: 6 }, stageSha256: await fileSha256(stage!.path, coordDir), stageBytes: bytes };
            const c = await memberClient(fresh.address);
            await c.connect();
            // 1. A damaged upload (wrong hash) is refused with DATA_LOSS and discarded.
            await assert.rejects(c.upload(stage!.path, { ...header, stageSha256: "0".repeat(64) }, 0), (e: grpc.ServiceError) => e.code === grpc.status.DATA_LOSS && /damaged/.test(e.details));
            // 2. An uploader killed halfway: the node must not keep the file open or the upload locked.
            const uploader = spawn(process.execPath, ["--import", "tsx", path.join(path.dirname(fileURLToPath(import.meta.url)), "helpers", "half-upload.ts"), fresh.address, (await enroll(path.join(dir, "half-uploader"), "half-uploader")).identity.file.replace(/\/node-identity\.json$/, ""), stage!.path, JSON.stringify(header)], { stdio: ["ignore", "pipe", "inherit"] });
            await new Promise<void>((resolve) => uploader.stdout.on("data", (d: Buffer) => { if (d.toString().includes("half")) resolve(); }));
            uploader.kill("SIGKILL");
            const partial = path.join(dir, "node-fresh", "stages", "v1", `${header.stageSha256}.gguf.partial`);
            await until("the node closed the dead upload's file", async () => {
                const fds = fs.readdirSync(`/proc/${fresh.child.pid}/fd`).map((fd) => { try { return fs.readlinkSync(`/proc/${fresh.child.pid}/fd/${fd}`); } catch { return ""; } });
                return !fds.includes(partial);
            });
            const have = fs.statSync(partial).size;
            assert.ok(have > 0 && have < bytes, `a partial of ${have} bytes stays for resuming`);
            // 3. Two uploads of one stage at once: the second is refused (ABORTED) and its promise rejects, no hang.
            const slow = c.upload(stage!.path, header, have, { chunkBytes: 4096, onProgress: () => {} });
            await delay(50);
            const c2 = await memberClient(fresh.address);
            await c2.connect();
            await assert.rejects(c2.upload(stage!.path, header, have), (e: grpc.ServiceError) => e.code === grpc.status.ABORTED || e.code === grpc.status.FAILED_PRECONDITION);
            c2.close();
            const done = await slow;
            assert.equal(done.complete, true);
            assert.equal(done.bytesReceived, bytes - have, "only the missing part was sent");
            c.close();
            const p = await connectPipeline({ modelPath: model, peers: [fresh.address], layers: [{ start: 0, end: 6 }], cluster: await testCoordinator(), dataDir: coordDir, stage: stageOpts });
            try {
                assert.equal(p.stages[0]!.bytesUploaded, 0, "the verified file is used from the cache");
                assert.deepEqual(await greedyTokens(p, prompt, 3), ref.slice(0, 3));
            } finally {
                await p.dispose();
            }
        } finally {
            await stopNode(fresh);
        }
    });

    test("a cached stage file that fails to load is FAILED_PRECONDITION and is removed", { timeout: 60000 }, async () => {
        const fresh = await startNode("loadfail", path.join(dir, "node-loadfail"));
        try {
            const [stage] = await ensureStageFiles(model, [{ start: 0, end: 6 }], coordDir);
            const bad = path.join(dir, "bad-stage.gguf");
            const data = fs.readFileSync(stage!.path);
            // A stage whose header says 0 attention heads (llama.cpp would divide by zero).
            const key = Buffer.from("llama.attention.head_count");
            const at = data.indexOf(key);
            data.writeUInt32LE(0, at + key.length + 4);
            fs.writeFileSync(bad, data);
            const sha = await fileSha256(bad, dir);
            const c = await memberClient(fresh.address);
            await c.connect();
            const header = { modelSha256: await fileSha256(model, coordDir), layers: { start: 0, end: 6 }, stageSha256: sha, stageBytes: data.length };
            assert.equal((await c.upload(bad, header, 0)).complete, true);
            const req = { pipelineId: "badload", pipelineKey: "k".repeat(20), stageIndex: 0, stageCount: 1, modelSha256: header.modelSha256, layers: header.layers, layerTotal: 6, stageSha256: sha, stageBytes: data.length, options: { contextSize: 64, maxSequences: 1, batchSize: 16 }, nextAddress: "", activations: "F32" as const };
            await assert.rejects(c.prepareStage(req), (e: grpc.ServiceError) => e.code === grpc.status.FAILED_PRECONDITION && /head/.test(e.details));
            assert.equal(fs.existsSync(path.join(dir, "node-loadfail", "stages", "v1", `${sha}.gguf`)), false, "the bad file was removed");
            c.close();
        } finally {
            await stopNode(fresh);
        }
    });

    test("a link between two nodes that drops reconnects: sequences in flight fail with the reason, the next generation is exact", { timeout: 90000 }, async () => {
        const proxy = await startProxy(nodes[1]!.address);
        const p = await connectPipeline({
            modelPath: model, peers: [nodes[0]!.address, nodes[1]!.address], linkAddresses: [proxy.address], layers: parseLayerRanges("0-3,3-6", 6),
            cluster: await testCoordinator(), dataDir: coordDir, stage: stageOpts
        });
        const links: Array<{ connected: boolean }> = [];
        p.events.subscribe((m) => { if (m.type === "linkChanged") links.push(m); });
        try {
            assert.deepEqual(await greedyTokens(p, prompt, 4), ref.slice(0, 4));
            const g = generate(p, { promptTokens: prompt, maxTokens: 400, sampler: { temperature: 0 } });
            await afterTokens(g, 2);
            proxy.cut();
            const cutShort = await g.result;
            assert.equal(cutShort.stopReason, "failed");
            assert.match(cutShort.error!.message, /link from node 'alpha' to node 'beta' .* broke/);
            await until("the link is back", async () => links.some((l) => l.connected));
            assert.equal(p.failure, null, "the pipeline itself did not fail");
            assert.deepEqual(await greedyTokens(p, prompt, GEN), ref, "exact after the reconnect");
            assert.ok(proxy.connections >= 2, "the node reconnected through the proxy");
        } finally {
            await p.dispose();
            await proxy.close();
        }
    });

    test("SIGTERM stops a node with open streams within 3 s, cleanly", { timeout: 60000 }, async () => {
        const n = await startNode("term", path.join(dir, "node-term"));
        const p = await connectPipeline({ modelPath: model, peers: [n.address], layers: [{ start: 0, end: 6 }], cluster: await testCoordinator(), dataDir: coordDir, stage: stageOpts });
        try {
            assert.equal((await greedyTokens(p, prompt, 2)).length, 2);
            const r = await terminateNode(n);
            assert.equal(r.code, 0, `exit code (signal ${r.signal})`);
            assert.ok(r.ms < 3000, `stopped in ${r.ms.toFixed(0)} ms`);
            await until("the coordinator sees the pipeline fail", async () => p.failure != null, 10000);
        } finally {
            await p.dispose();
        }
    });
});
