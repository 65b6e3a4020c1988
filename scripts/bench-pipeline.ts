// npm run bench:pipeline [-- --json] — the distributed pipeline on loopback with a 1B-shaped llama
// (q4_0), emulating separate machines on a small box: ONE thread per node. Figures (ratios within
// this run):
// - node-llama-cpp alone (1 thread): decode tokens/s and prefill time of a 1,024-token prompt;
// - the one-node Hearth baseline (all layers on one node, 1 thread, through the coordinator);
// - 2 nodes (split balanced by measured stage times): decode tokens/s, per-hop overhead, time to first token;
// - 1, 2 and 4 concurrent chats through the 2 nodes: aggregate tokens/s.
// Per-hop overhead: over the decode steps of one chat, (wall time of a step − the stages' compute
// reported by the nodes) / hops, where a step makes stages + 1 hops (coordinator → first stage →
// … → last stage → coordinator).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { makeModel } from "../app/model/make-model.ts";
import { Tokenizer } from "../app/model/tokenizer.ts";
import { getLlamaInstance } from "../app/native/llama.ts";
import { connectPipeline } from "../app/coordinator/connect.ts";
import type { RemotePipeline } from "../app/coordinator/remote-pipeline.ts";
import { generate, type GenerationStats } from "../app/engine/generate.ts";
import { parseLayerRanges } from "../app/stage/slice.ts";
import { startNode, stopNode, type NodeProcess } from "../test/helpers/nodes.ts";
import { testCoordinator } from "../test/helpers/test-cluster.ts";

const json = process.argv.includes("--json");
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const benchDir = path.join(root, ".hearth-bench");
const THREADS = 1;
const tokens = Number(process.env.BENCH_TOKENS ?? 48);
const LONG = 1024;
const model = path.join(benchDir, "llama-1b-shape-q4_0.gguf");
const prompts = ["The history of the printing press begins", "In a small village by the sea there lived", "The recipe for a good loaf of bread", "Astronomers have long wondered why"];
const log = (line: string) => { if (!json) console.log(line); };

fs.mkdirSync(benchDir, { recursive: true });
if (!fs.existsSync(model)) {
    log("making the 1B-shaped llama (q4_0) …");
    await makeModel({ arch: "llama", vocab: "llama-bpe", layers: 16, embd: 2048, heads: 32, kvHeads: 8, ff: 8192, type: "q4_0", tied: true, seed: 1, out: model });
}
const tok = await Tokenizer.load(model);
const promptTokens = prompts.map((p) => tok.encode(p));
const longPrompt = tok.encode(Array.from({ length: 400 }, (_, i) => `Line ${i} of a long document about printing presses.`).join(" ")).slice(0, LONG);
await tok.dispose();

async function nodeLlamaCpp(): Promise<{ decode: number; prefillMs: number }> {
    const llama = await getLlamaInstance();
    const m = await llama.loadModel({ modelPath: model, gpuLayers: 0 });
    const ctx = await m.createContext({ contextSize: 2048, threads: THREADS });
    let n = 0;
    let t0 = 0;
    const seq = ctx.getSequence();
    for await (const _ of seq.evaluate(promptTokens[0]! as never[], { temperature: 0 })) {
        if (n++ === 0) t0 = performance.now();
        if (n >= tokens) break;
    }
    const decode = (n - 1) / ((performance.now() - t0) / 1000);
    await seq.clearHistory();
    const tp = performance.now();
    for await (const _ of seq.evaluate(longPrompt as never[], { temperature: 0 })) break;
    const prefillMs = performance.now() - tp;
    await ctx.dispose();
    await m.dispose();
    return { decode, prefillMs };
}

async function withNodes<T>(count: number, fn: (nodes: NodeProcess[]) => Promise<T>): Promise<T> {
    const nodes = await Promise.all(Array.from({ length: count }, (_, i) => startNode(`bench-${i}`, path.join(benchDir, "nodes", `n${i}`))));
    try { return await fn(nodes); } finally { await Promise.all(nodes.map(stopNode)); }
}

async function open(nodes: NodeProcess[], split: string): Promise<RemotePipeline> {
    return connectPipeline({
        modelPath: model, peers: nodes.map((n) => n.address), layers: parseLayerRanges(split, 16), cluster: await testCoordinator(),
        dataDir: path.join(benchDir, "coordinator"), stage: { contextSize: 2048, maxSequences: 4, threads: THREADS }
    });
}

async function chats(p: RemotePipeline, count: number): Promise<{ aggregate: number; stats: GenerationStats[] }> {
    const t0 = performance.now();
    const results = await Promise.all(promptTokens.slice(0, count).map((pt) => generate(p, { promptTokens: pt, maxTokens: tokens, sampler: { temperature: 0 } }).result));
    for (const r of results) if (r.stopReason !== "maxTokens") throw new Error(`a bench chat ended with ${r.stopReason}: ${r.error?.message}`);
    const total = results.reduce((a, r) => a + r.tokens.length, 0);
    return { aggregate: total / ((performance.now() - t0) / 1000), stats: results.map((r) => r.stats) };
}

async function ttft(p: RemotePipeline): Promise<number> {
    const r = await generate(p, { promptTokens: longPrompt, maxTokens: 1, sampler: { temperature: 0 } }).result;
    if (r.stopReason === "failed") throw r.error!;
    return r.stats.timeToFirstTokenMs;
}

const best = (xs: number[]) => Math.max(...xs);
log(`model ${path.basename(model)}; ${THREADS} thread a node; ${tokens} tokens a chat; long prompt ${longPrompt.length} tokens`);
const ref = await nodeLlamaCpp();
log(`node-llama-cpp alone:          ${ref.decode.toFixed(2)} tokens/s decode, ${ref.prefillMs.toFixed(0)} ms prefill of ${longPrompt.length} tokens`);

const one = await withNodes(1, async (nodes) => {
    const p = await open(nodes, "0-16");
    try {
        await chats(p, 1); // warm-up
        const runs = [await chats(p, 1), await chats(p, 1)];
        const s = runs.map((r) => r.stats[0]!);
        const t = await ttft(p);
        return { tps: best(s.map((x) => x.decodeTokensPerSecond)), hop: Math.min(...s.map((x) => x.overheadMsPerToken)) / 2, ttft: t };
    } finally {
        await p.dispose();
    }
});
log(`1 node (all layers):           ${one.tps.toFixed(2)} tokens/s (${(one.tps / ref.decode).toFixed(3)}× node-llama-cpp); overhead ${one.hop.toFixed(3)} ms per hop; first token of the long prompt after ${one.ttft.toFixed(0)} ms (prefill ${(ref.prefillMs / one.ttft).toFixed(3)}× node-llama-cpp's speed)`);

// Two nodes. The split is balanced by measured stage times: a first run on 0-8 | 8-16 gives the
// time of a layer (stage 1 / 8) and of the output head (stage 2 − 8 layers); the decode split
// then minimizes the slower stage. A prompt's prefill computes the head once, not per token, so
// the time to first token is measured on the split balanced for prefill (0-8 | 8-16).
const two = await withNodes(2, async (nodes) => {
    const calibrate = await open(nodes, "0-8,8-16");
    let split: string;
    let ttftMs: number;
    let layerMs: number;
    let headMs: number;
    try {
        await chats(calibrate, 1);
        const s = (await chats(calibrate, 1)).stats[0]!;
        const perToken = s.stageComputeMs.map((ms) => ms / s.generatedTokens);
        layerMs = perToken[0]! / 8;
        headMs = Math.max(0, perToken[1]! - 8 * layerMs);
        let best = 8;
        for (let k = 1; k < 16; k++) if (Math.max(k * layerMs, (16 - k) * layerMs + headMs) < Math.max(best * layerMs, (16 - best) * layerMs + headMs)) best = k;
        split = `0-${best},${best}-16`;
        ttftMs = await ttft(calibrate);
    } finally {
        await calibrate.dispose();
    }
    const p = await open(nodes, split);
    try {
        await chats(p, 1);
        const runs = [await chats(p, 1), await chats(p, 1)];
        const s = runs.map((r) => r.stats[0]!);
        const agg: Record<string, number> = {};
        for (const n of [1, 2, 4]) agg[String(n)] = (await chats(p, n)).aggregate;
        const stages = (await p.nodeInfos()).map((i) => i.stages[0]!);
        return {
            split, layerMs, headMs, tps: best(s.map((x) => x.decodeTokensPerSecond)), hop: Math.min(...s.map((x) => x.overheadMsPerToken)) / 3, ttft: ttftMs, agg,
            seqsPerBatch: stages.map((st) => st.batchedSequences / Math.max(1, st.batches))
        };
    } finally {
        await p.dispose();
    }
});
log(`2 nodes, measured: a layer ${two.layerMs.toFixed(2)} ms, the output head ${two.headMs.toFixed(2)} ms per token → decode split ${two.split}`);
log(`2 nodes (${two.split}):          ${two.tps.toFixed(2)} tokens/s (${(two.tps / one.tps).toFixed(3)}× the one-node baseline); overhead ${two.hop.toFixed(3)} ms per hop`);
log(`time to first token, ${longPrompt.length}-token prompt: one node ${one.ttft.toFixed(0)} ms, two nodes (0-8 | 8-16) ${two.ttft.toFixed(0)} ms (${(two.ttft / one.ttft).toFixed(3)}×)`);
log(`2 nodes, concurrent chats (aggregate tokens/s): 1: ${two.agg["1"]!.toFixed(2)}, 2: ${two.agg["2"]!.toFixed(2)}, 4: ${two.agg["4"]!.toFixed(2)} (4 chats = ${(two.agg["4"]! / two.agg["1"]!).toFixed(2)}× one chat); sequences per batch by stage: ${two.seqsPerBatch.map((x) => x.toFixed(2)).join(", ")}`);
if (json) {
    console.log(JSON.stringify({
        model: path.basename(model), threadsPerNode: THREADS, tokensPerChat: tokens, longPromptTokens: longPrompt.length,
        twoNodeSplit: two.split, ttftSplit: "0-8,8-16", layerMs: two.layerMs, headMs: two.headMs, sequencesPerBatch: two.seqsPerBatch,
        nodeLlamaCppTokensPerSecond: ref.decode, nodeLlamaCppPrefillMs: ref.prefillMs,
        oneNodeTokensPerSecond: one.tps, twoNodeTokensPerSecond: two.tps,
        perHopMs: two.hop, oneNodePerHopMs: one.hop,
        chats: two.agg,
        ttftMs: { oneNode: one.ttft, twoNode: two.ttft },
        ratios: {
            twoNodeVsOneNode: two.tps / one.tps, oneNodeVsNodeLlamaCppDecode: one.tps / ref.decode, oneNodeVsNodeLlamaCppPrefill: ref.prefillMs / one.ttft,
            fourChatsVsOne: two.agg["4"]! / two.agg["1"]!, ttftTwoNodeVsOneNode: two.ttft / one.ttft
        }
    }));
}
