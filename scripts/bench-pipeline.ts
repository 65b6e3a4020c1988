// npm run bench:pipeline — the distributed pipeline on loopback with a 1B-shaped llama (q4_0):
// decode tokens/s for node-llama-cpp alone, 2 and 3 node processes; per-hop overhead; aggregate
// tokens/s with 1, 2 and 4 concurrent chats on 2 nodes.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { makeModel } from "../app/model/make-model.ts";
import { Tokenizer } from "../app/model/tokenizer.ts";
import { getLlamaInstance } from "../app/native/llama.ts";
import { RemotePipeline, type GenerationStats } from "../app/net/remote-pipeline.ts";
import { parseLayerRanges } from "../app/stage/slice.ts";
import { CLUSTER_KEY, startNode, stopNode, type NodeProcess } from "../test/helpers/nodes.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const benchDir = path.join(root, ".hearth-bench");
const threads = Number(process.env.BENCH_THREADS ?? os.availableParallelism());
const tokens = Number(process.env.BENCH_TOKENS ?? 48);
const model = path.join(benchDir, "llama-1b-shape-q4_0.gguf");
const prompts = ["The history of the printing press begins", "In a small village by the sea there lived", "The recipe for a good loaf of bread", "Astronomers have long wondered why"];

fs.mkdirSync(benchDir, { recursive: true });
if (!fs.existsSync(model)) {
    console.log("making the 1B-shaped llama (q4_0) …");
    await makeModel({ arch: "llama", vocab: "llama-bpe", layers: 16, embd: 2048, heads: 32, kvHeads: 8, ff: 8192, type: "q4_0", tied: true, seed: 1, out: model });
}
const tok = await Tokenizer.load(model);
const promptTokens = prompts.map((p) => tok.encode(p));
await tok.dispose();

async function nodeLlamaCpp(): Promise<number> {
    const llama = await getLlamaInstance();
    const m = await llama.loadModel({ modelPath: model, gpuLayers: 0 });
    const ctx = await m.createContext({ contextSize: 512, threads, flashAttention: false });
    let n = 0;
    let t0 = 0;
    for await (const _ of ctx.getSequence().evaluate(promptTokens[0]! as never[], { temperature: 0 })) {
        if (n++ === 0) t0 = performance.now();
        if (n >= tokens) break;
    }
    const tps = (n - 1) / ((performance.now() - t0) / 1000);
    await ctx.dispose();
    await m.dispose();
    return tps;
}

async function withNodes<T>(count: number, fn: (nodes: NodeProcess[]) => Promise<T>): Promise<T> {
    const nodes = await Promise.all(Array.from({ length: count }, (_, i) => startNode(`bench-${i}`, path.join(benchDir, "nodes", `n${i}`))));
    try { return await fn(nodes); } finally { await Promise.all(nodes.map(stopNode)); }
}

async function run(nodes: NodeProcess[], split: string, nodeThreads: number, chats: number): Promise<{ aggregate: number; stats: GenerationStats[] }> {
    const p = await RemotePipeline.connect({
        modelPath: model, peers: nodes.map((n) => n.address), layers: parseLayerRanges(split, 16), clusterKey: CLUSTER_KEY,
        dataDir: path.join(benchDir, "coordinator"), stage: { contextSize: 512, maxSequences: 4, threads: nodeThreads }
    });
    try {
        const stats: GenerationStats[] = [];
        const t0 = performance.now();
        let total = 0;
        await Promise.all(promptTokens.slice(0, chats).map(async (pt) => {
            for await (const _ of p.generate({ promptTokens: pt, maxTokens: tokens, onStats: (s) => stats.push(s) })) total++;
        }));
        return { aggregate: total / ((performance.now() - t0) / 1000), stats };
    } finally {
        await p.close();
    }
}

const ref = await nodeLlamaCpp();
console.log(`model ${path.basename(model)}, ${tokens} tokens a chat, ${threads} threads a node (single chat)`);
console.log(`1 node (node-llama-cpp alone):       ${ref.toFixed(2)} tokens/s`);
// Splits give the last stage fewer layers: the 128k-token output head costs about as much as 5 layers.
for (const [count, split] of [[2, "0-10,10-16"], [3, "0-7,7-13,13-16"]] as const) {
    await withNodes(count, async (nodes) => {
        await run(nodes, split, threads, 1); // first run: stage transfer and warm-up
        const r = await run(nodes, split, threads, 1);
        const s = r.stats[0]!;
        const hops = count + 1;
        console.log(`${count} nodes (${split}):  ${s.decodeTokensPerSecond.toFixed(2)} tokens/s (${(s.decodeTokensPerSecond / ref).toFixed(3)}× node-llama-cpp); ` +
            `overhead ${s.overheadMsPerToken.toFixed(2)} ms/token over ${hops} hops = ${(s.overheadMsPerToken / hops).toFixed(2)} ms per hop`);
    });
}
await withNodes(2, async (nodes) => {
    const nodeThreads = Math.max(1, Math.floor(threads / 2));
    await run(nodes, "0-10,10-16", nodeThreads, 1);
    const agg: number[] = [];
    for (const chats of [1, 2, 4]) {
        const r = await run(nodes, "0-10,10-16", nodeThreads, chats);
        agg.push(r.aggregate);
        console.log(`2 nodes, ${chats} concurrent chat(s), ${nodeThreads} thread(s) a node: ${r.aggregate.toFixed(2)} tokens/s aggregate`);
    }
    console.log(`4 chats / 1 chat aggregate: ${(agg[2]! / agg[0]!).toFixed(2)}×  (goal >= 1.5)`);
});
