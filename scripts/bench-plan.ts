// Benchmarks the placement planner (pure, no nodes): for the example clusters, the predicted ms
// per token next to the bandwidth bound (weight bytes each device reads per token / its memory
// bandwidth, plus each hop's link latency); the planner's run time for 8 members × 128 layers
// (median of several runs); and how far the heuristic order search (more than exactMaxMembers
// members) lands from trying every order. Then, on this machine, predicted vs measured ms/token
// for one node and a 2-node split of a real pipeline (two node processes on 127.0.0.1; see
// bench-plan-split.ts; --no-split skips it).
//
//   node --import tsx scripts/bench-plan.ts [--runs N] [--json] [--no-split]
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { parseClusterFileText, type ClusterFile } from "../app/placement/cluster-file.ts";
import { describeModel, MODEL_FAMILIES, syntheticModelShape, type ModelShape } from "../app/placement/model-shape.ts";
import { bandwidthBoundMsPerToken, findPlan, type PlanInput } from "../app/placement/planner.ts";
import { makeLinks, type Link, type Member, type PlanObjective } from "../app/placement/cost-model.ts";
import { benchPlanSplit } from "./bench-plan-split.ts";

const { values } = parseArgs({ options: { runs: { type: "string", default: "15" }, json: { type: "boolean", default: false }, "no-split": { type: "boolean", default: false } } });
const runs = Math.max(1, Number(values.runs) || 15);
const GiB = 1024 ** 3;
const dir = path.join(import.meta.dirname, "..", "test", "fixtures", "clusters");
const cluster = (name: string): ClusterFile => parseClusterFileText(fs.readFileSync(path.join(dir, name), "utf8"), name);
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };
const f = (n: number, d = 1) => n.toFixed(d);
const out: Record<string, unknown> = {};
const log = (line: string) => { if (!values.json) console.log(line); };

// ---- predicted vs the bandwidth bound ------------------------------------------------------------

const cases: Array<[string, string]> = [
    ["home.json", "llama-8b-q4_k_m"], ["home.json", "llama-70b-q4_k_m"],
    ["gaming-pc.json", "llama-8b-q4_k_m"], ["gaming-pc.json", "llama-70b-q4_k_m"],
    ["eight-machines.json", "llama-70b-q4_k_m"], ["eight-machines.json", "llama-405b-q2_k"]
];
log("predicted ms/token (one chat) next to the bandwidth bound");
log(`${"cluster".padEnd(20)} ${"model".padEnd(18)} ${"objective".padEnd(10)} ${"stages".padEnd(36)} ${"ms/token".padStart(9)} ${"bound".padStart(9)} ${"ratio".padStart(6)} ${"tok/s 1".padStart(8)} ${"tok/s many".padStart(10)}`);
const predicted: unknown[] = [];
for (const [file, modelName] of cases) {
    const c = cluster(file);
    const model = syntheticModelShape(modelName);
    for (const objective of ["latency", "throughput"] as PlanObjective[]) {
        const input: PlanInput = { model, members: c.members, links: c.links, options: { objective } };
        const plan = findPlan(input);
        if (plan === null) { log(`${file.padEnd(20)} ${modelName.padEnd(18)} ${objective.padEnd(10)} does not fit`); continue; }
        const bound = bandwidthBoundMsPerToken(plan, input);
        const stages = plan.stages.map((s) => `${s.member}:${s.layers[1] - s.layers[0]}${s.gpuLayers > 0 ? `/${s.gpuLayers}g` : ""}`).join(" ");
        log(`${file.padEnd(20)} ${modelName.padEnd(18)} ${objective.padEnd(10)} ${stages.padEnd(36)} ${f(plan.predictedMsPerToken).padStart(9)} ` +
            `${(bound === null ? "n/a" : f(bound)).padStart(9)} ${(bound === null ? "" : f(plan.predictedMsPerToken / bound, 2)).padStart(6)} ` +
            `${f(plan.predictedTokensPerSecond, 2).padStart(8)} ${f(plan.predictedManyChatsTokensPerSecond, 2).padStart(10)}`);
        predicted.push({ cluster: file, model: modelName, objective, stages, predictedMsPerToken: plan.predictedMsPerToken, boundMsPerToken: bound, tokensPerSecond: plan.predictedTokensPerSecond, manyChatsTokensPerSecond: plan.predictedManyChatsTokensPerSecond });
    }
}
log("(stages: member:layers/GPU layers; the bound counts weights only, at full bandwidth; the prediction adds the KV cache read,");
log(" per-stage overhead, bandwidth efficiency 0.75 on bandwidth-given devices, and the hops' transfer time)");
out.predicted = predicted;

// ---- run time: 8 members × 128 layers -----------------------------------------------------------

function rng(seed: number) {
    let a = seed >>> 0;
    return () => { a = (a + 0x6d2b79f5) >>> 0; let t = a; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
}

function randomCluster(seed: number, n: number, model: ModelShape): { members: Member[]; links: ReturnType<typeof makeLinks> } {
    const r = rng(seed);
    const between = (lo: number, hi: number) => lo + (hi - lo) * r();
    const members: Member[] = Array.from({ length: n }, (_, i) => {
        const ram = Math.round(model.totalBytes * between(0.1, 0.6));
        const kind = r();
        const gpu = kind < 0.3 ? { totalBytes: Math.round(between(8, 24) * GiB), freeBytes: Math.round(between(7, 23) * GiB), unified: false }
            : kind < 0.5 ? { totalBytes: Math.round(ram * 0.75), freeBytes: Math.round(ram * 0.7), unified: true } : null;
        return {
            name: `m${i}`, backend: gpu === null ? "cpu" : gpu.unified ? "metal" : "cuda",
            ram: { totalBytes: ram, freeBytes: Math.round(ram * between(0.75, 1)) }, gpu,
            cpuSpeed: { kind: "bandwidth", bandwidthGBs: between(20, 100) },
            gpuSpeed: gpu === null ? null : { kind: "bandwidth", bandwidthGBs: between(100, 1000) }
        };
    });
    const pairs: Array<{ between: [string, string]; link: Link }> = [];
    for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++)
        if (r() < 0.4) pairs.push({ between: [`m${a}`, `m${b}`], link: { latencyMs: between(0.3, 6), bandwidthMBs: between(50, 1000) } });
    return { members, links: makeLinks({ latencyMs: 4, bandwidthMBs: 100 }, pairs) };
}

const model128 = describeModel({ ...MODEL_FAMILIES["llama-405b"]!, layers: 128, name: "llama-405b-shape-128-layers-q2_k", quantization: "Q2_K" });
const eight = cluster("eight-machines.json");
const timing: Record<string, unknown> = {};
log("");
log(`planner run time, 8 members × 128 layers (${model128.name}, ${f(model128.totalBytes / GiB)} GiB), median of ${runs} runs after one warm-up`);
for (const [label, members, links] of [
    ["eight-machines.json", eight.members, eight.links] as const,
    ...[1, 2, 3].map((seed) => { const c = randomCluster(seed, 8, model128); return [`random cluster ${seed}`, c.members, c.links] as const; })
]) {
    for (const objective of ["latency", "throughput"] as PlanObjective[]) {
        const input: PlanInput = { model: model128, members, links, options: { objective } };
        const first = findPlan(input);
        const times: number[] = [];
        for (let i = 0; i < runs; i++) {
            const t0 = performance.now();
            findPlan(input);
            times.push(performance.now() - t0);
        }
        const med = median(times);
        log(`  ${label.padEnd(20)} ${objective.padEnd(10)} median ${f(med, 2).padStart(6)} ms  (min ${f(Math.min(...times), 2)}, max ${f(Math.max(...times), 2)})  ` +
            (first === null ? "does not fit" : `${first.stages.length} stages, ${f(first.predictedTokensPerSecond, 2)} tok/s one chat, ${f(first.predictedManyChatsTokensPerSecond, 2)} many`));
        timing[`${label} ${objective}`] = { medianMs: med, minMs: Math.min(...times), maxMs: Math.max(...times), stages: first?.stages.length ?? null };
    }
}
out.timing = timing;

// ---- heuristic vs every order -----------------------------------------------------------------

const model32 = describeModel({ ...MODEL_FAMILIES["llama-70b"]!, layers: 32, name: "llama-70b-shape-32-layers-q4_k_m", quantization: "Q4_K_M" });
const gaps: Record<string, number[]> = { latency: [], throughput: [] };
let compared = 0;
for (let seed = 1; seed <= 12; seed++) {
    const c = randomCluster(1000 + seed, 6 + (seed % 2), model32);
    for (const objective of ["latency", "throughput"] as PlanObjective[]) {
        const heuristic = findPlan({ model: model32, members: c.members, links: c.links, options: { objective } });
        const exact = findPlan({ model: model32, members: c.members, links: c.links, options: { objective, exactMaxMembers: 8 } });
        if (heuristic === null || exact === null) continue;
        const value = (p: NonNullable<typeof exact>) => (objective === "latency" ? p.predictedMsPerToken : p.bottleneck.msPerToken);
        gaps[objective]!.push(value(heuristic) / value(exact) - 1);
        compared++;
    }
}
log("");
log(`heuristic order search vs every order (random 6- and 7-member clusters, ${model32.nLayer} layers, ${compared} plans):`);
for (const [objective, g] of Object.entries(gaps)) {
    if (g.length === 0) continue;
    log(`  ${objective.padEnd(10)} ${g.filter((x) => x <= 1e-9).length}/${g.length} optimal, mean gap ${f(100 * g.reduce((a, b) => a + b, 0) / g.length, 2)}%, worst ${f(100 * Math.max(...g), 2)}%`);
}
out.heuristicGaps = gaps;

// ---- predicted vs measured on this machine: 1 node and a 2-node split --------------------------

if (!values["no-split"]) {
    log("");
    try {
        out.split = await benchPlanSplit({ log });
    } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        out.split = { error: message };
        console.error(`predicted vs measured: ${message}`);
        process.exitCode = 1;
    }
}

if (values.json) console.log(JSON.stringify(out, null, 2));
// Nothing of the nodes' clients is left to wait for; never hang on a handle that outlived them.
setTimeout(() => process.exit(), 2000).unref();
