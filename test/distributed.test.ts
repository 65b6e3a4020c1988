// Real gRPC between real processes: three nodes on 127.0.0.1 and a coordinator in this process.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { Tokenizer } from "../app/model/tokenizer.ts";
import { RemotePipeline, type RemotePipelineOptions } from "../app/net/remote-pipeline.ts";
import { parseLayerRanges } from "../app/stage/slice.ts";
import { SMALL, buildModel, tempDir } from "./helpers/models.ts";
import { CLUSTER_KEY, startNode, stopNode, type NodeProcess } from "./helpers/nodes.ts";
import { referenceGreedy } from "./helpers/reference.ts";

const GEN = 12;
const CONTEXT = 256;
const PROMPTS = ["The quick brown fox jumps over", "Once upon a time in a land far away", "Hello, world!", "Numbers: 1, 2, 3, 4, 5"];
const dir = tempDir("dist");
const coordDir = path.join(dir, "coordinator");
let nodes: NodeProcess[] = [];

before(async () => {
    nodes = await Promise.all(["alpha", "beta", "gamma"].map((n) => startNode(n, path.join(dir, `node-${n}`))));
});
after(async () => {
    await Promise.all(nodes.map(stopNode));
    fs.rmSync(dir, { recursive: true, force: true });
});

const stageOpts = { contextSize: CONTEXT, maxSequences: 4, batchSize: 512, threads: 1, gpuLayers: 0, flashAttention: false };
function connect(model: string, split: string, layers: number, extra: Partial<RemotePipelineOptions> = {}) {
    return RemotePipeline.connect({
        modelPath: model, peers: nodes.map((n) => n.address), layers: parseLayerRanges(split, layers), clusterKey: CLUSTER_KEY,
        dataDir: coordDir, stage: stageOpts, ...extra
    });
}
async function collect(gen: AsyncGenerator<number>): Promise<number[]> {
    const out: number[] = [];
    for await (const t of gen) out.push(t);
    return out;
}
async function promptTokens(model: string, texts: string[]) {
    const tok = await Tokenizer.load(model);
    const out = texts.map((t) => tok.encode(t));
    await tok.dispose();
    return out;
}

for (const [label, spec, split] of [
    ["llama f32 untied", { arch: "llama", vocab: "llama-spm", layers: 5, type: "f32", tied: false }, "0-1,1-4,4-5"],
    ["qwen2 f32 tied", { arch: "qwen2", vocab: "qwen2", layers: 4, type: "f32", tied: true }, "0-2,2-3,3-4"]
] as const) {
    describe(`3 nodes, ${label}, split ${split}`, () => {
        let model = "";
        let prompts: number[][] = [];
        let refs: number[][] = [];
        before(async () => {
            model = await buildModel(dir, label.replace(/\W+/g, "_"), { ...spec, ...SMALL });
            prompts = await promptTokens(model, PROMPTS);
            refs = [];
            for (const p of prompts) refs.push(await referenceGreedy(model, p, GEN, { contextSize: CONTEXT, threads: 2, flashAttention: false }));
        });

        test("greedy tokens equal node-llama-cpp; the model exists only on the coordinator; the second run uses the caches", async () => {
            const first = await connect(model, split, spec.layers);
            try {
                assert.deepEqual(await collect(first.generate({ promptTokens: prompts[0]!, maxTokens: GEN })), refs[0]);
                assert.ok(first.stages.every((s) => s.bytesUploaded > 0), "the first run sends every stage file");
            } finally {
                await first.close();
            }
            for (const n of nodes) {
                const files = fs.readdirSync(n.dataDir, { recursive: true }).map(String);
                assert.ok(!files.some((f) => f.endsWith(path.basename(model))), `node ${n.name} never holds the model file`);
            }
            const second = await connect(model, split, spec.layers);
            try {
                assert.deepEqual(second.stages.map((s) => s.bytesUploaded), [0, 0, 0], "no bytes transferred on the second run");
                assert.deepEqual(await collect(second.generate({ promptTokens: prompts[1]!, maxTokens: GEN })), refs[1]);
            } finally {
                await second.close();
            }
        });

        test("two and four concurrent generations through the same nodes are each exact", async () => {
            const p = await connect(model, split, spec.layers);
            try {
                for (const n of [2, 4]) {
                    const outs = await Promise.all(prompts.slice(0, n).map((pt) => collect(p.generate({ promptTokens: pt, maxTokens: GEN }))));
                    assert.deepEqual(outs, refs.slice(0, n));
                }
                const stages = (await p.nodeInfos()).map((i) => i.stages[0]!);
                assert.ok(stages.every((s) => !s.batchesExactly && s.batches === s.batchedSequences), "f32 stages never mix sequences in a batch");
            } finally {
                await p.close();
            }
        });
    });
}

describe("3 nodes, llama q4_0 (quantized: sequences share llama.cpp batches)", () => {
    test("four concurrent generations are each exact, and the stages batched them together", async () => {
        const model = await buildModel(dir, "q4", { arch: "llama", vocab: "llama-bpe", layers: 4, type: "q4_0", tied: false, ...SMALL, embd: 128, ff: 256 });
        const prompts = await promptTokens(model, PROMPTS);
        const refs: number[][] = [];
        for (const pt of prompts) refs.push(await referenceGreedy(model, pt, GEN, { contextSize: CONTEXT, threads: 2, flashAttention: false }));
        const p = await connect(model, "0-1,1-3,3-4", 4);
        try {
            const outs = await Promise.all(prompts.map((pt) => collect(p.generate({ promptTokens: pt, maxTokens: GEN }))));
            assert.deepEqual(outs, refs);
            const stages = (await p.nodeInfos()).map((i) => i.stages[0]!);
            assert.ok(stages.every((s) => s.batchesExactly));
            assert.ok(stages.some((s) => s.batchedSequences > s.batches), `some batch held several sequences: ${JSON.stringify(stages.map((s) => [s.batches, s.batchedSequences]))}`);
        } finally {
            await p.close();
        }
    });
});

describe("control and failure", () => {
    let model = "";
    let prompt: number[] = [];
    before(async () => {
        model = await buildModel(dir, "ctl", { arch: "llama", vocab: "llama-spm", layers: 3, type: "f32", tied: false, ...SMALL });
        [prompt] = await promptTokens(model, [PROMPTS[0]!]) as [number[]];
    });

    test("automatic layer placement and f16 activations", async () => {
        const p = await RemotePipeline.connect({ modelPath: model, peers: nodes.map((n) => n.address), layers: "auto", clusterKey: CLUSTER_KEY, dataDir: coordDir, stage: stageOpts, dtype: "f16" });
        try {
            const ranges = p.stages.map((s) => [s.range.start, s.range.end]);
            assert.deepEqual(ranges, [[0, 1], [1, 2], [2, 3]], "auto placement covers the model with one contiguous range per node");
            const out = await collect(p.generate({ promptTokens: prompt, maxTokens: GEN }));
            assert.equal(out.length, GEN);
            // f16 halves the activation bytes; it is not exact, so the tokens are only checked to be valid.
            assert.ok(out.every((t) => Number.isInteger(t) && t >= 0 && t < 32000));
        } finally {
            await p.close();
        }
    });

    test("cancelling mid-generation frees the sequence on every stage", async () => {
        const p = await connect(model, "0-1,1-2,2-3", 3);
        try {
            const controller = new AbortController();
            const got: number[] = [];
            const gen = p.generate({ promptTokens: prompt, maxTokens: 100, signal: controller.signal });
            for await (const t of gen) {
                got.push(t);
                if (got.length === 3) {
                    const during = await p.nodeInfos();
                    assert.ok(during.every((i) => i.stages[0]!.liveSequences.length === 1), "the sequence is live on every stage while it runs");
                    controller.abort();
                }
            }
            assert.equal(got.length, 3);
            const infos = await p.nodeInfos();
            assert.deepEqual(infos.map((i) => i.stages.map((s) => s.liveSequences)), [[[]], [[]], [[]]]);

            // Leaving the loop early (break) frees it too.
            for await (const t of p.generate({ promptTokens: prompt, maxTokens: 100 })) { if (t >= 0) break; }
            assert.deepEqual((await p.nodeInfos()).map((i) => i.stages[0]!.liveSequences), [[], [], []]);
        } finally {
            await p.close();
        }
    });

    test("a stage that does not fit is refused before any transfer, with the figures", async () => {
        const small = await startNode("tiny", path.join(dir, "node-tiny"), ["--memory-limit", String(2 * 1024 * 1024)]);
        try {
            await assert.rejects(RemotePipeline.connect({
                modelPath: model, peers: [nodes[0]!.address, small.address], layers: parseLayerRanges("0-1,1-3", 3), clusterKey: CLUSTER_KEY, dataDir: coordDir, stage: stageOpts
            }), /node 'tiny' has 2\.00 MB free; layers 1-3 need .*MB \(.* more\) — add a machine/);
            assert.equal(fs.existsSync(path.join(dir, "node-tiny", "stages")), false, "nothing was transferred");
        } finally {
            await stopNode(small);
        }
    });

    test("a node killed mid-generation fails the generation naming it within 10 s; the others keep serving", async () => {
        const victim = await startNode("victim", path.join(dir, "node-victim"));
        const peers = [nodes[0]!.address, victim.address, nodes[2]!.address];
        const p = await RemotePipeline.connect({ modelPath: model, peers, layers: parseLayerRanges("0-1,1-2,2-3", 3), clusterKey: CLUSTER_KEY, dataDir: coordDir, stage: stageOpts });
        try {
            const got: number[] = [];
            let killedAt = 0;
            await assert.rejects(async () => {
                for await (const t of p.generate({ promptTokens: prompt, maxTokens: 200 })) {
                    got.push(t);
                    if (got.length === 3) { killedAt = performance.now(); victim.child.kill("SIGKILL"); }
                }
            }, /victim/);
            assert.ok(performance.now() - killedAt < 10000);
            assert.ok(got.length >= 3 && got.length < 200);
        } finally {
            await p.close();
            await stopNode(victim);
        }
        // The other nodes still serve a new pipeline.
        const again = await connect(model, "0-1,1-2,2-3", 3);
        try {
            assert.equal((await collect(again.generate({ promptTokens: prompt, maxTokens: 4 }))).length, 4);
        } finally {
            await again.close();
        }
    });

    test("an interrupted stage transfer resumes where it stopped", async () => {
        const fresh = await startNode("fresh", path.join(dir, "node-fresh"));
        try {
            const { NodeClient } = await import("../app/net/client.ts");
            const { ensureStageFiles, modelHash } = await import("../app/model/stage-cache.ts");
            const [stage] = await ensureStageFiles(model, [{ start: 0, end: 3 }], coordDir);
            const bytes = fs.statSync(stage!.path).size;
            const c = new NodeClient(fresh.address);
            await c.join(CLUSTER_KEY, "test");
            const { stream, done } = c.upload();
            const data = fs.readFileSync(stage!.path);
            const half = Math.floor(bytes / 2 / 1024) * 1024;
            const header = { modelSha256: await modelHash(model, coordDir), layers: { start: 0, end: 3 }, stageSha256: await modelHash(stage!.path, coordDir), stageBytes: bytes };
            for (let off = 0; off < half; off += 1024 * 1024)
                stream.write({ header: off === 0 ? header : null, offset: off, data: data.subarray(off, Math.min(half, off + 1024 * 1024)) });
            stream.end();
            assert.deepEqual(await done, { bytesReceived: half, complete: false });
            c.close();
            const p = await RemotePipeline.connect({ modelPath: model, peers: [fresh.address], layers: [{ start: 0, end: 3 }], clusterKey: CLUSTER_KEY, dataDir: coordDir, stage: stageOpts });
            try {
                assert.equal(p.stages[0]!.bytesUploaded, bytes - half, "only the missing half was sent");
                assert.equal((await collect(p.generate({ promptTokens: prompt, maxTokens: 3 }))).length, 3);
            } finally {
                await p.close();
            }
        } finally {
            await stopNode(fresh);
        }
    });
});
