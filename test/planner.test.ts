// Placement: the model's shape from a GGUF header, the cost model (aligned with
// estimateStageMemory), the planner against brute force on random small clusters, the margins it
// keeps, its explanations, what it says when a model cannot fit, the cluster file, `hearth plan`.
// All pure and fast: no model files, no native code; timings are benchmarked in scripts/bench-plan.ts.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { GgufType, str, u32, type GgufHeader, type GgufTensorInfo, type GgufValue } from "../app/gguf/format.ts";
import { arrayValue } from "../app/gguf/arrays.ts";
import { GgmlType, tensorBytes } from "../app/gguf/ggml-types.ts";
import { estimateStageGpuMemory, estimateStageMemory } from "../app/placement/memory.ts";
import { readGgufHeader } from "../app/gguf/reader.ts";
import { sliceStage } from "../app/stage/slice.ts";
import { SMALL, buildModel, tempDir } from "./helpers/models.ts";
import {
    evaluateStages, makeLinks, resolvePlanOptions, StageCosts, usableMemory,
    type Link, type Links, type Member, type PlanObjective, type PlanOptions, type StageChoice
} from "../app/placement/cost-model.ts";
import {
    describeModel, kvBytesPerToken, modelShapeFromHeader, requantizedShape, syntheticModelShape, type ModelShape
} from "../app/placement/model-shape.ts";
import { bandwidthBoundMsPerToken, bestGpuLayers, findPlan, type Plan, type PlanInput } from "../app/placement/planner.ts";
import { explainNoFit, machineBytesFor, PlanDoesNotFitError, planOrThrow } from "../app/placement/no-fit.ts";
import { ClusterFileError, parseClusterFile, parseClusterFileText, type ClusterFile } from "../app/placement/cluster-file.ts";
import { quantizationByName } from "../app/placement/quantization.ts";
import { formatPlanTable } from "../app/placement/plan-report.ts";
import { PlanUsageError, runPlan } from "../app/cli-plan.ts";

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const FIXTURES = path.join(import.meta.dirname, "fixtures", "clusters");
const T = { timeout: 30000 };

function fixture(name: string): ClusterFile {
    const file = path.join(FIXTURES, name);
    return parseClusterFileText(fs.readFileSync(file, "utf8"), file);
}

const home = fixture("home.json");
const only = (c: ClusterFile, ...names: string[]): PlanInput["members"] => c.members.filter((m) => names.includes(m.name));
const input = (model: ModelShape, c: ClusterFile, options: Partial<PlanOptions> = {}, members: readonly Member[] = c.members): PlanInput => ({ model, members, links: c.links, options });

// ---- seeded randomness ---------------------------------------------------------------------------

function rng(seed: number) {
    let a = seed >>> 0;
    const next = () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    return {
        next,
        between: (lo: number, hi: number) => lo + (hi - lo) * next(),
        int: (lo: number, hi: number) => lo + Math.floor((hi - lo + 1) * next()),
        chance: (p: number) => next() < p
    };
}
type Rng = ReturnType<typeof rng>;

/** A small model with uneven layers (as real K-quants have), so that which layers go where matters. */
function randomModel(r: Rng, layers: number): ModelShape {
    const base = describeModel({ name: `random-${layers}`, layers, embd: 4096, ff: 14336, heads: 32, kvHeads: 8, vocab: 32000, tied: r.chance(0.3), quantization: "Q4_K_M" });
    const layerBytes = base.layerBytes.map((b) => Math.round(b * r.between(0.6, 1.6)));
    const head = Math.round(base.outputHeadBytes * r.between(0.5, 2));
    return { ...base, layerBytes, outputHeadBytes: base.tiedOutput ? base.inputEmbeddingBytes : head, totalBytes: layerBytes.reduce((a, b) => a + b, 0) + base.inputEmbeddingBytes + head };
}

function randomMember(r: Rng, name: string, scale: number): Member {
    const ramTotal = Math.round(scale * r.between(0.2, 1.1));
    const ram = { totalBytes: ramTotal, freeBytes: Math.round(ramTotal * r.between(0.6, 1)) };
    let gpu: Member["gpu"] = null;
    if (r.chance(0.6)) {
        const unified = r.chance(0.35);
        const total = unified ? Math.round(ramTotal * r.between(0.5, 0.9)) : Math.round(scale * r.between(0.05, 0.7));
        gpu = { totalBytes: total, freeBytes: Math.round(total * r.between(0.7, 1)), unified };
    }
    const cpuSpeed = r.chance(0.7) ? { kind: "bandwidth" as const, bandwidthGBs: r.between(10, 100) } : { kind: "measured" as const, decodeMsPerLayer: r.between(0.5, 5), layerBytes: 60 * MiB };
    // Some GPUs are slower than the CPU (a weak integrated one): then the CPU should keep the layers.
    const gpuSpeed = gpu === null ? null : { kind: "bandwidth" as const, bandwidthGBs: r.chance(0.2) ? r.between(5, 30) : r.between(60, 1000) };
    return { name, backend: gpu === null ? "cpu" : gpu.unified ? "metal" : "cuda", ram, gpu, cpuSpeed, gpuSpeed, overheadMsPerToken: r.between(0, 2) };
}

function randomLinks(r: Rng, members: readonly Member[]): Links {
    const link = (): Link => ({ latencyMs: r.between(0.1, 8), bandwidthMBs: r.between(10, 1000) });
    const pairs: Array<{ between: [string, string]; link: Link }> = [];
    for (let a = 0; a < members.length; a++) for (let b = a + 1; b < members.length; b++)
        if (r.chance(0.5)) pairs.push({ between: [members[a]!.name, members[b]!.name], link: link() });
    return makeLinks(link(), pairs);
}

/** Small margins and buffers so that a model of 1-2 GB spreads over small machines. */
const SMALL_OPTIONS: Partial<PlanOptions> = { marginMinBytes: 32 * MiB, contextSize: 512, batchSize: 64, maxSequences: 2 };

function randomCase(seed: number, maxMembers: number, layers: [number, number]): PlanInput {
    const r = rng(seed);
    const model = randomModel(r, r.int(layers[0], layers[1]));
    const n = r.int(1, maxMembers);
    const members = Array.from({ length: n }, (_, i) => randomMember(r, `m${i}`, model.totalBytes * r.between(0.5, 1.6)));
    return { model, members, links: randomLinks(r, members), options: { ...SMALL_OPTIONS } };
}

// ---- brute force ---------------------------------------------------------------------------------

/**
 * Every ordered subset of the members, every split of the layers into contiguous ranges, every
 * n_gpu_layers of every stage. A stage's n_gpu_layers changes only its own time and memory, and
 * both objectives grow with each stage's time, so the fastest fitting n_gpu_layers of each stage
 * (found by trying them all) is the best for the plan.
 */
function bruteForce(inp: PlanInput, objective: PlanObjective): { value: number; latencyAtBest: number } | null {
    const options = resolvePlanOptions({ ...inp.options, objective });
    const costs = new StageCosts(inp.model, inp.members, inp.links!, options);
    const L = inp.model.nLayer, M = inp.members.length;
    const memo = new Map<number, number>();
    const bestG = (m: number, s: number, e: number): number => {
        const key = (m * (L + 1) + s) * (L + 1) + e;
        const known = memo.get(key);
        if (known !== undefined) return known;
        let best = -1, bestMs = Infinity;
        for (let g = 0; g <= costs.maxGpuLayers(s, e); g++) {
            if (!costs.fits(m, s, e, g)) continue;
            const ms = costs.msPerToken(m, s, e, g);
            if (ms < bestMs) { bestMs = ms; best = g; }
        }
        memo.set(key, best);
        return best;
    };
    const all: Array<{ bottleneck: number; latency: number }> = [];
    const seq: StageChoice[] = [];
    const used = new Array<boolean>(M).fill(false);
    const rec = (start: number) => {
        if (start === L) {
            const c = evaluateStages(costs, seq);
            all.push({ bottleneck: c.bottleneckMs, latency: c.msPerToken });
            return;
        }
        for (let m = 0; m < M; m++) {
            if (used[m]) continue;
            for (let e = start + 1; e <= L; e++) {
                if (e < L && inp.model.splitPoints !== undefined && !inp.model.splitPoints.includes(e)) continue;
                const g = bestG(m, start, e);
                if (g < 0) continue;
                used[m] = true; seq.push({ member: m, start, end: e, gpuLayers: g });
                rec(e);
                seq.pop(); used[m] = false;
            }
        }
    };
    rec(0);
    if (all.length === 0) return null;
    if (objective === "latency") {
        const v = Math.min(...all.map((p) => p.latency));
        return { value: v, latencyAtBest: v };
    }
    const v = Math.min(...all.map((p) => p.bottleneck));
    return { value: v, latencyAtBest: Math.min(...all.filter((p) => p.bottleneck <= v * (1 + 1e-9)).map((p) => p.latency)) };
}

// ---- invariants of any plan ------------------------------------------------------------------------

function checkPlan(plan: Plan, inp: PlanInput) {
    const options = resolvePlanOptions(inp.options);
    const L = inp.model.nLayer;
    const byName = new Map(inp.members.map((m) => [m.name, m]));
    const costs = new StageCosts(inp.model, inp.members, inp.links!, options);
    let next = 0;
    const seen = new Set<string>();
    let sumMs = 0, bottleneck = 0;
    for (const s of plan.stages) {
        assert.equal(s.layers[0], next, "ranges are contiguous from layer 0");
        assert.ok(s.layers[1] > s.layers[0], "no empty stage");
        next = s.layers[1];
        assert.ok(!seen.has(s.member), "each member at most once");
        seen.add(s.member);
        assert.equal(s.gpuLayers + s.cpuLayers, s.layerCount);
        assert.equal(s.layerCount, s.layers[1] - s.layers[0]);
        assert.equal(s.gpuLayersOption, s.gpuLayers + (s.outputOnGpu ? 1 : 0));
        assert.equal(s.inputEmbedding, s.layers[0] === 0);
        assert.equal(s.outputHead, s.layers[1] === L);
        if (s.outputOnGpu) assert.ok(s.outputHead && s.cpuLayers === 0, "the head goes on the GPU only with every layer of the last stage");
        const member = byName.get(s.member)!;
        if (member.gpu === null) assert.equal(s.gpuLayers, 0);
        // Never overfilled: recomputed from the member's own figures, margins kept.
        const margin = (p: { totalBytes: number }) => Math.max(options.marginFraction * p.totalBytes, options.marginMinBytes);
        const ramUsable = Math.max(0, Math.floor(Math.min(member.ram.freeBytes, member.ram.totalBytes) - margin(member.ram)));
        const mi = inp.members.indexOf(member);
        const est = costs.estimate(mi, s.layers[0], s.layers[1], s.gpuLayersOption);
        const unified = member.gpu?.unified ?? false;
        assert.ok((unified ? est.ramBytes + est.vramBytes : est.ramBytes) <= ramUsable, `${s.member}: RAM within free less margin`);
        if (member.gpu !== null) {
            const gpuUsable = Math.max(0, Math.floor(Math.min(member.gpu.freeBytes, member.gpu.totalBytes) - margin(member.gpu)));
            assert.ok(est.vramBytes <= gpuUsable, `${s.member}: GPU memory within free less margin`);
            assert.equal(s.memory.vramUsableBytes, gpuUsable);
        } else assert.equal(est.vramBytes, 0);
        // The explanation says the same.
        assert.equal(s.memory.ramUsableBytes, ramUsable);
        assert.equal(s.memory.ramUsedBytes, unified ? est.ramBytes + est.vramBytes : est.ramBytes);
        assert.equal(s.memory.ramLeftBytes, s.memory.ramUsableBytes - s.memory.ramUsedBytes);
        assert.equal(s.memory.vramLeftBytes, s.memory.vramUsableBytes - s.memory.vramUsedBytes);
        assert.ok(s.memory.ramLeftBytes >= 0 && s.memory.vramLeftBytes >= 0);
        assert.equal(s.memoryBytes, est.ramBytes + est.vramBytes);
        assert.equal(s.memoryBytes, s.weightsBytes + s.kvBytes + s.workBytes);
        assert.ok(s.predictedMsPerToken > 0);
        sumMs += s.predictedMsPerToken + s.hopMsPerToken;
        bottleneck = Math.max(bottleneck, s.predictedMsPerToken + s.hopMsPerToken);
    }
    assert.equal(next, L, "the stages cover every layer");
    assert.equal(plan.stages.reduce((a, s) => a + s.layerCount, 0), L);
    assert.equal(plan.stages.at(-1)!.hopTo, plan.stages.length === 1 ? null : plan.stages[0]!.member);
    assert.ok(Math.abs(plan.predictedMsPerToken - sumMs) <= 1e-9 * sumMs);
    assert.ok(Math.abs(plan.predictedTokensPerSecond - 1000 / sumMs) <= 1e-9 * plan.predictedTokensPerSecond);
    assert.ok(Math.abs(plan.predictedManyChatsTokensPerSecond - 1000 / bottleneck) <= 1e-9 * plan.predictedManyChatsTokensPerSecond);
    assert.deepEqual([...plan.idleMembers].sort(), inp.members.map((m) => m.name).filter((n) => !seen.has(n)).sort());
    assert.equal(plan.layers, plan.stages.map((s) => s.layers.join("-")).join(","));
}

// ---- tests -----------------------------------------------------------------------------------------

describe("model shape", () => {
    function header(tied: boolean): GgufHeader {
        const L = 4, E = 256, F = 512, V = 1000, H = 8, KVH = 2, hd = E / H;
        const kv = new Map<string, GgufValue>([
            ["general.architecture", str("llama")], ["general.name", str("tiny")], ["general.file_type", u32(2)],
            ["llama.block_count", u32(L)], ["llama.embedding_length", u32(E)], ["llama.feed_forward_length", u32(F)],
            ["llama.attention.head_count", u32(H)], ["llama.attention.head_count_kv", u32(KVH)], ["llama.vocab_size", u32(V)],
            ["tokenizer.ggml.tokens", arrayValue(GgufType.STRING, Array.from({ length: V }, (_, i) => Buffer.from(`t${i}`)))]
        ]);
        const tensors: GgufTensorInfo[] = [];
        const add = (name: string, type: number, dims: number[]) =>
            tensors.push({ name, dims: dims.map(BigInt), type, offset: 0n, size: tensorBytes(type, dims) });
        add("token_embd.weight", GgmlType.Q4_0, [E, V]);
        for (let l = 0; l < L; l++) {
            add(`blk.${l}.attn_norm.weight`, GgmlType.F32, [E]);
            add(`blk.${l}.attn_q.weight`, GgmlType.Q4_0, [E, H * hd]);
            add(`blk.${l}.attn_k.weight`, GgmlType.Q4_0, [E, KVH * hd]);
            add(`blk.${l}.attn_v.weight`, l === 0 ? GgmlType.Q8_0 : GgmlType.Q4_0, [E, KVH * hd]);
            add(`blk.${l}.attn_output.weight`, GgmlType.Q4_0, [H * hd, E]);
            add(`blk.${l}.ffn_norm.weight`, GgmlType.F32, [E]);
            add(`blk.${l}.ffn_gate.weight`, GgmlType.Q4_0, [E, F]);
            add(`blk.${l}.ffn_up.weight`, GgmlType.Q4_0, [E, F]);
            add(`blk.${l}.ffn_down.weight`, GgmlType.Q4_0, [F, E]);
        }
        add("output_norm.weight", GgmlType.F32, [E]);
        if (!tied) add("output.weight", GgmlType.Q8_0, [E, V]);
        const fileSize = tensors.reduce((a, t) => a + t.size, 0n);
        return { version: 3, kv, tensors, alignment: 32, dataOffset: 0n, fileSize };
    }

    test("bytes of each layer, the input table, the head (tied or not) and KV per token, from a header", T, () => {
        for (const tied of [true, false]) {
            const h = header(tied);
            const shape = modelShapeFromHeader(h);
            const sum = (pred: (n: string) => boolean) => h.tensors.filter((t) => pred(t.name)).reduce((a, t) => a + Number(t.size), 0);
            assert.equal(shape.name, "tiny");
            assert.equal(shape.nLayer, 4);
            assert.deepEqual(shape.layerBytes, [0, 1, 2, 3].map((l) => sum((n) => n.startsWith(`blk.${l}.`))));
            assert.ok(shape.layerBytes[0]! > shape.layerBytes[1]!, "layer 0's Q8_0 attn_v makes it larger");
            assert.equal(shape.inputEmbeddingBytes, sum((n) => n === "token_embd.weight"));
            assert.equal(shape.tiedOutput, tied);
            assert.equal(shape.outputHeadBytes, sum((n) => n === (tied ? "token_embd.weight" : "output.weight")));
            assert.equal(shape.globalBytes, sum((n) => n === "output_norm.weight"));
            assert.equal(shape.totalBytes, Number(h.fileSize));
            assert.equal(shape.nVocab, 1000);
            assert.deepEqual([shape.nEmbd, shape.nHead, shape.headDimK, shape.headDimV, shape.nFf], [256, 8, 32, 32, 512]);
            assert.equal(kvBytesPerToken(shape), 4 * 2 * 2 * 32 * 2, "f16 K and V: 2 × n_head_kv × head_dim × 2 bytes per layer");
            assert.equal(shape.quantization, "Q4_0");
        }
    });

    test("a stage on the CPU alone costs what estimateStageMemory says, never less (the planner counts the file's padding as a bound)", T, () => {
        const h = header(false);
        const shape = modelShapeFromHeader(h);
        for (const o of [{ contextSize: 4096, maxSequences: 4, batchSize: 512 }, { contextSize: 100000, maxSequences: 1, batchSize: 32 }]) {
            const want = estimateStageMemory(h, Number(h.fileSize), o);
            const cpu: Member = { name: "cpu", backend: "cpu", ram: { totalBytes: 64 * GiB, freeBytes: 64 * GiB }, gpu: null, cpuSpeed: { kind: "bandwidth", bandwidthGBs: 50 }, gpuSpeed: null };
            const costs = new StageCosts(shape, [cpu], makeLinks(), resolvePlanOptions(o));
            const est = costs.estimate(0, 0, shape.nLayer, 0);
            const slack = h.alignment * h.tensors.length;
            assert.equal(est.kvBytes, want.kvBytes);
            assert.ok(est.weightsBytes >= want.weightsBytes && est.weightsBytes - want.weightsBytes <= slack, `weights ${est.weightsBytes} vs the file's ${want.weightsBytes}`);
            assert.equal(est.workBytes, want.workBytes);
            assert.ok(est.ramBytes >= want.totalBytes && est.ramBytes - want.totalBytes <= slack, `RAM ${est.ramBytes} vs the node's ${want.totalBytes}`);
        }
    });

    test("what a node reckons a stage puts on its GPU (from the stage file alone) is what the planner reckons for it, for every n_gpu_layers", { timeout: 60000 }, async () => {
        const dir = tempDir("gpu-memory");
        try {
            for (const tied of [false, true]) {
                const model = await buildModel(dir, `m${tied}`, { arch: "llama", vocab: "llama-spm", layers: 5, type: "q8_0", tied, ...SMALL, embd: 128, ff: 256 });
                const shape = modelShapeFromHeader(readGgufHeader(model));
                const gpu: Member = { name: "gpu", backend: "cuda", ram: { totalBytes: 64 * GiB, freeBytes: 64 * GiB }, gpu: { totalBytes: 24 * GiB, freeBytes: 24 * GiB, unified: false },
                    cpuSpeed: { kind: "bandwidth", bandwidthGBs: 50 }, gpuSpeed: { kind: "bandwidth", bandwidthGBs: 500 } };
                const options = { contextSize: 512, maxSequences: 3, batchSize: 64 };
                const costs = new StageCosts(shape, [gpu], makeLinks(), resolvePlanOptions(options));
                for (const [start, end] of [[0, 2], [2, 3], [3, 5]] as const) {
                    const file = path.join(dir, `m${tied}-${start}-${end}.gguf`);
                    await sliceStage(model, { start, end }, file);
                    const stageHeader = readGgufHeader(file);
                    for (let g = 0; g <= end - start + 2; g++) {
                        const node = estimateStageGpuMemory(stageHeader, { ...options, gpuLayers: g });
                        assert.equal(node.totalBytes, costs.vramBytes(start, end, g), `tied ${tied}, layers ${start}-${end}, n_gpu_layers ${g}`);
                        assert.equal(node.gpuLayers, Math.min(g, end - start));
                        assert.equal(node.outputOnGpu, end === 5 && g > end - start, "only the last stage's head goes to the GPU, once every layer is there");
                    }
                    assert.equal(estimateStageGpuMemory(stageHeader, { ...options, gpuLayers: 0 }).totalBytes, 0, "nothing on the GPU with 0 layers there");
                }
            }
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    test("synthetic shapes: 70B Q4_K_M about 40 GiB, 8B about 4.9 GB, quantizations scale by bits per weight", T, () => {
        const big = syntheticModelShape("llama-70b-q4_k_m");
        assert.deepEqual([big.nLayer, big.nEmbd, big.nHeadKvByLayer[0], big.headDimK], [80, 8192, 8, 128]);
        assert.ok(big.totalBytes > 39 * GiB && big.totalBytes < 42 * GiB, `70B is ${big.totalBytes / GiB} GiB`);
        const small = syntheticModelShape("LLAMA-8B-Q4_K_M");
        assert.ok(small.totalBytes > 4.7e9 && small.totalBytes < 5.1e9, `8B is ${small.totalBytes / 1e9} GB`);
        assert.equal(syntheticModelShape("llama-1b-q4_0").tiedOutput, true);
        const q2 = requantizedShape(big, quantizationByName("Q2_K")!);
        assert.ok(Math.abs(q2.totalBytes / big.totalBytes - 3.17 / 4.90) < 0.001);
        assert.equal(q2.quantization, "Q2_K");
        assert.throws(() => syntheticModelShape("llama-7b-q4_k_m"), /unknown model shape 'llama-7b-q4_k_m'.*llama-8b/);
    });
});

describe("planner on the anchor home cluster", () => {
    const big = syntheticModelShape("llama-70b-q4_k_m");

    test("70B Q4_K_M over the three machines fits, with GPU layers on the PC and the Mac", T, () => {
        for (const objective of ["latency", "throughput"] as const) {
            const inp = input(big, home, { objective });
            const plan = findPlan(inp);
            assert.ok(plan !== null, `${objective}: it fits`);
            checkPlan(plan, inp);
            const stage = (n: string) => plan.stages.find((s) => s.member === n);
            assert.ok(stage("pc")!.gpuLayers > 0 && stage("mac")!.gpuLayers > 0, `${objective}: GPU layers on pc and mac`);
            // The PC's GPU is full before its RAM takes layers: there is no room left for one more layer.
            assert.ok(stage("pc")!.memory.vramLeftBytes < big.layerBytes[0]!);
            if (objective === "throughput") assert.equal(plan.stages.length, 3, "throughput spreads over all three");
            assert.ok(plan.predictedTokensPerSecond > 0.5 && plan.predictedTokensPerSecond < 10, `${plan.predictedTokensPerSecond} tokens/s`);
            assert.ok(plan.predictedManyChatsTokensPerSecond >= plan.predictedTokensPerSecond);
        }
        // With a longer context the KV cache needs the laptop too, even for one chat.
        const inp = input(big, home, { objective: "latency", contextSize: 8192 });
        const plan = findPlan(inp)!;
        checkPlan(plan, inp);
        assert.deepEqual(plan.stages.map((s) => s.member).sort(), ["laptop", "mac", "pc"]);
        assert.ok(plan.stages.find((s) => s.member === "pc")!.gpuLayers > 0 && plan.stages.find((s) => s.member === "mac")!.gpuLayers > 0);
    });

    test("an 8B model that fits one machine stays on the fastest, all of it on its GPU", T, () => {
        const small = syntheticModelShape("llama-8b-q4_k_m");
        const inp = input(small, home);
        const plan = findPlan(inp)!;
        checkPlan(plan, inp);
        assert.equal(plan.stages.length, 1);
        assert.equal(plan.stages[0]!.member, "pc");
        assert.equal(plan.stages[0]!.gpuLayers, 32);
        assert.equal(plan.stages[0]!.outputOnGpu, true);
        assert.deepEqual(plan.idleMembers.sort(), ["laptop", "mac"]);
        // Each machine alone is slower.
        for (const m of home.members) {
            const alone = findPlan(input(small, home, {}, [m]));
            if (alone !== null) assert.ok(alone.predictedMsPerToken >= plan.predictedMsPerToken);
        }
        const text = formatPlanTable(plan);
        assert.match(text, /pc\s+cuda\s+0-32/);
        assert.match(text, /tokens\/s for one chat/);
    });

    test("a model that cannot fit names the shortfall and fixes that work", T, () => {
        const inp = input(big, home, { contextSize: 8192 }, only(home, "mac", "laptop"));
        assert.equal(findPlan(inp), null);
        const report = explainNoFit(inp);
        assert.ok(report.shortfallBytes > 0);
        assert.ok(report.needBytes > report.usableBytes);
        assert.match(report.error, /does not fit on mac, laptop/);
        assert.match(report.error, /one more machine would have to bring/);
        const kinds = report.suggestions.map((s) => s.kind);
        assert.ok(kinds.includes("add-machine"));
        for (const s of report.suggestions) {
            if (s.kind === "add-machine") {
                const extra = (usable: number): Member => {
                    const total = machineBytesFor(usable, resolvePlanOptions(inp.options));
                    return { name: "extra", backend: "cpu", ram: { totalBytes: total, freeBytes: total }, gpu: null, cpuSpeed: { kind: "bandwidth", bandwidthGBs: 30 }, gpuSpeed: null };
                };
                assert.equal(s.bytes, report.shortfallBytes);
                assert.ok(findPlan({ ...inp, members: [...inp.members, extra(s.bytes)] }) !== null, "a machine that size makes it fit");
                assert.equal(findPlan({ ...inp, members: [...inp.members, extra(s.bytes - 16 * MiB)] }), null, "and a machine much smaller does not");
                assert.ok(s.machineBytes >= s.bytes);
            } else if (s.kind === "quantization") {
                assert.ok(findPlan({ ...inp, model: requantizedShape(big, quantizationByName(s.quantization)!) }) !== null);
            } else if (s.kind === "context") {
                assert.ok(s.contextSize < 8192);
                assert.ok(findPlan({ ...inp, options: { ...inp.options, contextSize: s.contextSize } }) !== null);
            } else {
                assert.ok(findPlan({ ...inp, options: { ...inp.options, maxSequences: s.maxSequences } }) !== null);
            }
        }
        assert.throws(() => planOrThrow(inp), (e: unknown) => e instanceof PlanDoesNotFitError && e.json.shortfallBytes === report.shortfallBytes && e.message === report.error);
        // On the laptop alone the 70B does not fit in any quantization or context: only adding machines helps.
        const laptop = explainNoFit(input(big, home, {}, only(home, "laptop")));
        assert.deepEqual(laptop.suggestions.map((s) => s.kind), ["add-machine"]);
        assert.match(laptop.error, /even Q2_K/);
    });
});

describe("planner against brute force", () => {
    test("random clusters of up to 5 members, 8 to 11 layers: the same best latency and throughput", T, () => {
        let feasible = 0, infeasible = 0, multi = 0;
        for (let seed = 1; seed <= 100; seed++) {
            const inp = randomCase(seed, 5, [8, 11]);
            for (const objective of ["latency", "throughput"] as const) {
                const want = bruteForce(inp, objective);
                const plan = findPlan({ ...inp, options: { ...inp.options, objective } });
                if (want === null) { assert.equal(plan, null, `seed ${seed} ${objective}: nothing fits`); infeasible++; continue; }
                assert.ok(plan !== null, `seed ${seed} ${objective}: the planner finds a plan`);
                checkPlan(plan, inp);
                feasible++;
                if (plan.stages.length > 1) multi++;
                if (objective === "latency") {
                    assert.ok(Math.abs(plan.predictedMsPerToken - want.value) <= 1e-9 * want.value, `seed ${seed} latency: ${plan.predictedMsPerToken} vs ${want.value}`);
                } else {
                    const got = plan.bottleneck.msPerToken;
                    assert.ok(Math.abs(got - want.value) <= 1e-8 * want.value, `seed ${seed} throughput: ${got} vs ${want.value}`);
                    assert.ok(plan.predictedMsPerToken <= want.latencyAtBest * (1 + 1e-8), `seed ${seed}: the least latency among the best-throughput plans`);
                }
            }
        }
        // The random cases exercise all the paths.
        assert.ok(feasible > 90 && infeasible > 20 && multi > 50, `${feasible} feasible, ${infeasible} infeasible, ${multi} split`);
    });

    test("an architecture's split points: the same best plans as brute force over those points only, every stage at them", T, () => {
        let multi = 0, restricted = 0;
        for (let seed = 200; seed < 260; seed++) {
            const base = randomCase(seed, 4, [8, 12]);
            const period = 2 + (seed % 3);
            const splitPoints = Array.from({ length: base.model.nLayer - 1 }, (_, i) => i + 1).filter((k) => k % period === 0);
            const inp = { ...base, model: { ...base.model, splitPoints, splitRule: `every ${period}th layer` } };
            for (const objective of ["latency", "throughput"] as const) {
                const want = bruteForce(inp, objective);
                const free = findPlan({ ...base, options: { ...base.options, objective } });
                const plan = findPlan({ ...inp, options: { ...inp.options, objective } });
                if (want === null) { assert.equal(plan, null, `seed ${seed} ${objective}: nothing fits at those points`); continue; }
                assert.ok(plan !== null, `seed ${seed} ${objective}: a plan`);
                checkPlan(plan, inp);
                for (const st of plan.stages.slice(1)) assert.ok(splitPoints.includes(st.layers[0]), `seed ${seed}: stage starts at ${st.layers[0]}, an allowed point (${splitPoints})`);
                const got = objective === "latency" ? plan.predictedMsPerToken : plan.bottleneck.msPerToken;
                assert.ok(Math.abs(got - want.value) <= 1e-8 * want.value, `seed ${seed} ${objective}: ${got} vs ${want.value}`);
                assert.deepEqual(plan.splitPoints, { points: splitPoints, reason: `every ${period}th layer` });
                assert.match(plan.summary, new RegExp(`split only at layers ${splitPoints.join(", ")}`));
                if (plan.stages.length > 1) multi++;
                if (free !== null && free.layers !== plan.layers) restricted++;
            }
        }
        assert.ok(multi > 20 && restricted > 5, `${multi} split plans, ${restricted} moved by the split points`);
    });

    test("the best n_gpu_layers of a stage is the fastest that fits, as trying every one finds", T, () => {
        for (let seed = 100; seed < 140; seed++) {
            const inp = randomCase(seed, 5, [6, 14]);
            const costs = new StageCosts(inp.model, inp.members, inp.links!, resolvePlanOptions(inp.options));
            const L = inp.model.nLayer;
            for (let m = 0; m < inp.members.length; m++) for (let s = 0; s < L; s++) for (let e = s + 1; e <= L; e++) {
                let bestMs = Infinity;
                for (let g = 0; g <= costs.maxGpuLayers(s, e); g++) if (costs.fits(m, s, e, g)) bestMs = Math.min(bestMs, costs.msPerToken(m, s, e, g));
                const g = bestGpuLayers(costs, m, s, e);
                if (bestMs === Infinity) assert.equal(g, -1);
                else assert.equal(costs.msPerToken(m, s, e, g), bestMs, `seed ${seed} m${m} ${s}-${e}`);
            }
        }
    });
});

describe("planner properties", () => {
    test("never overfills a device, and the explanations add up (up to 8 members, 40 layers)", T, () => {
        let plans = 0, heuristic = 0;
        for (let seed = 1000; seed < 1060; seed++) {
            const inp = randomCase(seed, 8, [10, 40]);
            for (const objective of ["latency", "throughput"] as const) {
                const plan = findPlan({ ...inp, options: { ...inp.options, objective } });
                if (plan === null) continue;
                checkPlan(plan, inp);
                plans++;
                if (plan.search === "heuristic") heuristic++;
            }
        }
        assert.ok(plans > 60 && heuristic > 10, `${plans} plans, ${heuristic} by heuristic`);
    });

    test("stays on one machine when splitting would only add hops", T, () => {
        const model = syntheticModelShape("llama-8b-q4_k_m");
        const twin = (name: string): Member => ({
            name, backend: "cpu", ram: { totalBytes: 32 * GiB, freeBytes: 32 * GiB }, gpu: null, cpuSpeed: { kind: "bandwidth", bandwidthGBs: 50 }, gpuSpeed: null
        });
        const inp: PlanInput = { model, members: [twin("a"), twin("b")], links: makeLinks() };
        assert.equal(findPlan(inp)!.stages.length, 1);
        // For throughput, two equal machines halve the slowest stage.
        assert.equal(findPlan({ ...inp, options: { objective: "throughput" } })!.stages.length, 2);
    });

    test("usable memory keeps 10% or 1.5 GiB, whichever is more", T, () => {
        const o = resolvePlanOptions();
        const m = (total: number, free: number): Member => ({ name: "x", backend: "cpu", ram: { totalBytes: total, freeBytes: free }, gpu: null, cpuSpeed: { kind: "bandwidth", bandwidthGBs: 10 }, gpuSpeed: null });
        assert.equal(usableMemory(m(8 * GiB, 8 * GiB), o).ramBytes, 6.5 * GiB);
        assert.equal(usableMemory(m(64 * GiB, 40 * GiB), o).ramBytes, Math.floor(40 * GiB - 6.4 * GiB));
        assert.equal(usableMemory(m(1 * GiB, 1 * GiB), o).ramBytes, 0);
    });
});

describe("cluster file", () => {
    test("the anchor file: a unified Mac, a PC with a GPU, a laptop, and their links", T, () => {
        assert.deepEqual(home.members.map((m) => m.name), ["mac", "pc", "laptop"]);
        const [mac, pc, laptop] = home.members as [Member, Member, Member];
        assert.deepEqual(mac.gpu, { totalBytes: 16 * GiB, freeBytes: 16 * GiB, unified: true });
        assert.equal(mac.ram.freeBytes, 20 * GiB);
        assert.deepEqual(pc.gpu, { totalBytes: 12 * GiB, freeBytes: 11.5 * GiB, unified: false });
        assert.deepEqual(pc.gpuSpeed, { kind: "bandwidth", bandwidthGBs: 360 });
        assert.equal(laptop.gpu, null);
        assert.equal(laptop.backend, "cpu");
        assert.equal(home.links.pairs.size, 1);
        assert.equal(home.links.defaultLink.latencyMs, 4);
        const gaming = fixture("gaming-pc.json");
        assert.equal(gaming.members[0]!.gpuSpeed!.kind, "measured");
        assert.equal(fixture("eight-machines.json").members.length, 8);
    });

    test("refuses mistakes with the field named", T, () => {
        const machine = { name: "a", ramGB: 8, memoryBandwidthGBs: 20 };
        const bad: Array<[unknown, RegExp]> = [
            [{ machines: [] }, /machines must be a list of one or more/],
            [{ machines: [{ ...machine, ramGb: 8, ramGB: undefined }] }, /unknown field 'ramGb' \(did you mean 'ramGB'\?\)/],
            [{ machines: [{ name: "a", ramGB: 8 }] }, /machines\[0\] \(a\) needs a CPU speed/],
            [{ machines: [{ ...machine, ramGB: "8" }] }, /machines\[0\] \(a\)\.ramGB must be a number \(got "8"\)/],
            [{ machines: [{ ...machine, ramGB: 8, ramBytes: 8 }] }, /gives both ramGB and ramBytes/],
            [{ machines: [{ ...machine, ramFreeGB: 9 }] }, /more RAM free/],
            [{ machines: [{ ...machine, gpu: { vramGB: 8, bandwidthGBs: 300 } }] }, /say which backend/],
            [{ machines: [{ ...machine, backend: "rocm" }] }, /backend must be one of cpu, metal, cuda, vulkan/],
            [{ machines: [{ ...machine, backend: "cuda", gpu: { vramGB: 8 } }] }, /needs a GPU speed/],
            [{ machines: [{ ...machine, backend: "cuda", gpu: { bandwidthGBs: 300 } }] }, /gpu needs vramGB/],
            [{ machines: [machine, machine] }, /name two machines 'a'/],
            [{ machines: [machine], links: [{ between: ["a", "b"], latencyMs: 1, bandwidthMBs: 100 }] }, /links\[0\]\.between names 'b'/],
            [{ machines: [machine], defaultLink: { latencyMs: 1 } }, /defaultLink needs latencyMs and bandwidthMBs/],
            [{ machines: [{ ...machine, speed: { cpu: { decodeMsPerLayer: 1 } } }] }, /speed\.cpu needs decodeMsPerLayer and layerBytes/]
        ];
        for (const [json, re] of bad) assert.throws(() => parseClusterFile(json, "c.json"), (e: unknown) => e instanceof ClusterFileError && re.test(e.message) && e.message.startsWith("c.json: "), re.source);
        assert.throws(() => parseClusterFileText("{", "c.json"), /c\.json: not valid JSON/);
        // Shorthands: unified at the top, the GPU's share and bandwidth from the RAM's.
        const mac = parseClusterFile({ machines: [{ name: "m", ramGB: 16, backend: "metal", unified: true, memoryBandwidthGBs: 100 }] }).members[0]!;
        assert.deepEqual(mac.gpu, { totalBytes: 12 * GiB, freeBytes: 12 * GiB, unified: true });
        assert.deepEqual(mac.gpuSpeed, { kind: "bandwidth", bandwidthGBs: 100 });
    });
});

describe("hearth plan", () => {
    const home = path.join(FIXTURES, "home.json");

    test("--json prints the stages and the predicted speed", T, () => {
        const r = runPlan(["--model-shape", "llama-70b-q4_k_m", "--simulate", home, "--objective", "throughput", "--json"]);
        const j = JSON.parse(r.output) as Plan;
        assert.equal(j.stages.length, 3);
        for (const s of j.stages) {
            assert.equal(typeof s.member, "string");
            assert.equal(s.layers.length, 2);
            assert.ok(Number.isInteger(s.gpuLayers) && s.memoryBytes > 0 && s.predictedMsPerToken > 0);
        }
        assert.ok(j.predictedTokensPerSecond > 0 && j.predictedMsPerToken > 0 && j.predictedManyChatsTokensPerSecond > 0);
        assert.equal(j.objective, "throughput");
        const human = runPlan(["--model-shape", "llama-8b-q4_k_m", "--simulate", home, "--context", "2048"]);
        assert.match(human.output, /^#\s+MEMBER/);
        assert.match(human.output, /llama-8b-q4_k_m on pc alone: .* tokens\/s for one chat/);
        assert.equal(human.plan.contextSize, 2048);
    });

    test("a model that cannot fit throws the sentence, with the JSON for --json", T, () => {
        assert.throws(() => runPlan(["--model-shape", "llama-405b-q4_k_m", "--simulate", home, "--json"]), (e: unknown) => {
            if (!(e instanceof PlanDoesNotFitError)) return false;
            assert.equal(e.jsonRequested, true);
            assert.ok(e.json.shortfallBytes > 0 && e.json.suggestions.length > 0);
            assert.equal(e.json.error, e.message);
            assert.ok(JSON.parse(JSON.stringify(e.json)).suggestions[0].text.length > 0);
            return true;
        });
    });

    test("usage mistakes, and no cluster file", T, () => {
        assert.throws(() => runPlan(["--simulate", home]), (e: unknown) => e instanceof PlanUsageError && /--model FILE or --model-shape NAME/.test(e.message));
        assert.throws(() => runPlan(["--model-shape", "llama-8b-q4_k_m", "--simulate", home, "--objective", "speed"]), PlanUsageError);
        assert.throws(() => runPlan(["--model-shape", "llama-8b-q4_k_m", "--simulate", home, "--context", "0"]), /--context must be a whole number/);
        assert.throws(() => runPlan(["--model-shape", "nope", "--simulate", home]), PlanUsageError);
        assert.throws(() => runPlan(["--model-shape", "llama-8b-q4_k_m"]), /planning over the members needs their figures: run .hearth plan. through a running node/);
        assert.throws(() => runPlan(["--model-shape", "llama-8b-q4_k_m", "--simulate", "/nonexistent.json"]), /cannot read the cluster file \/nonexistent\.json: no such file/);
    });
});

test("the bandwidth bound is below the prediction", T, () => {
    const inp = input(syntheticModelShape("llama-70b-q4_k_m"), home);
    const plan = findPlan(inp)!;
    const bound = bandwidthBoundMsPerToken(plan, inp)!;
    assert.ok(bound > 0 && bound < plan.predictedMsPerToken);
});
