// Predicted vs measured ms/token on this machine: two real nodes on 127.0.0.1 (each measures its
// speed profile, and the links between them), a model made for the run, and for one node (all
// layers) and a 2-node split: the cost model's prediction (app/placement/cost-model.ts) fed as a
// live host feeds it (livePlanInput over the nodes' GetInfo answers), next to the decode ms/token
// measured with greedy generations through connectPipeline.
//
//   node --import tsx scripts/bench-plan-split.ts [--layers 16] [--type q8_0] [--embd 2048] [--ff 5632]
//        [--tokens 64] [--runs 3] [--fresh-speed] [--link-settle-s 65] [--timeout-min 30] [--json]
//
// The speed profiles are cached per node name under $TMPDIR/hearth-bench-plan-split (copied into
// each node's fresh data dir before it starts, and back once it is ready), so only the first run
// pays for the speed tests (about 8 s each here); --fresh-speed measures again. The link figures
// are taken 65 s after both nodes are up (what the nodes measured while the other was starting
// is gone from their figures only then). Other processes on the machine disturb every figure:
// the bench waits for a quiet CPU before each timed phase, repeats a disturbed one, and says so.
// Everything else (model, data dirs, stage files) lives in a temp dir removed at the end; the
// whole run is bounded (--timeout-min). About 2.5 minutes on 2 cores with the profiles cached.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { connectPipeline } from "../app/coordinator/connect.ts";
import type { RemotePipeline } from "../app/coordinator/remote-pipeline.ts";
import { generate } from "../app/engine/generate.ts";
import type { StepRequest, StepResult } from "../app/engine/pipeline.ts";
import { readGgufHeader } from "../app/gguf/reader.ts";
import { livePlanInput, type LiveMember } from "../app/host/live-plan.ts";
import type { ModelType } from "../app/model/make-model.ts";
import { Tokenizer } from "../app/model/tokenizer.ts";
import { deviceMsPerByte, evaluateStages, makeLinks, resolvePlanOptions, StageCosts, type PlanCost, type StageChoice } from "../app/placement/cost-model.ts";
import { modelShapeFromHeader } from "../app/placement/model-shape.ts";
import type { NodeInfo__Output } from "../app/protocol/proto.ts";
import type { MachineInventory } from "../app/cluster/inventory.ts";
import { speedProfileFile } from "../app/cluster/speed-profile.ts";
import { buildModel } from "../test/helpers/models.ts";
import { startNode, stopNode, type NodeProcess } from "../test/helpers/nodes.ts";
import { memberClient, testCoordinator } from "../test/helpers/test-cluster.ts";

export interface SplitBenchOptions {
    /** decoder layers of the model made for the run. Defaults to 16 */
    layers?: number;
    /** its weights' type. Defaults to q8_0 */
    type?: ModelType;
    embd?: number;
    ff?: number;
    /** tokens generated per run. Defaults to 64 */
    tokens?: number;
    /** timed generations per configuration (after one warm-up). Defaults to 3 */
    runs?: number;
    /** measure the speed profiles again instead of using the cached ones */
    freshSpeed?: boolean;
    /** a phase is disturbed when other processes use this share of the CPU or more. Defaults to 0.10 */
    quietShare?: number;
    /** how long to wait, over the whole run, for a quiet machine before the timed phases. Defaults to 6 minutes */
    quietWaitMs?: number;
    /** tries of a disturbed phase. Defaults to 3 */
    attempts?: number;
    /**
     * How long after both nodes are up the link figures are taken: each node keeps the median of
     * its last 9 round trips (one per 5 s) and measures the bandwidth once a minute, so figures
     * taken during the other node's start (or speed test) are gone only after a minute. Defaults to 65 s
     */
    linkSettleMs?: number;
    /** the whole benchmark's limit. Defaults to 30 minutes */
    timeoutMs?: number;
    log?: (line: string) => void;
}

export interface SplitRow {
    split: string;
    stages: Array<{ node: string; layers: [number, number] }>;
    predictedMsPerToken: number;
    /** the prediction's terms: each stage's ms (its overhead + bytes × ms/byte), its overhead, and each hop */
    predictedStageMs: number[];
    predictedOverheadMs: number[];
    predictedHopMs: number[];
    /** median time between tokens after the first, over every timed run */
    measuredMsPerToken: number;
    /** each timed run's median */
    runMedians: number[];
    /** median per decode step of each stage's compute as its node timed it (llama.cpp's decode and sampling) */
    measuredStageComputeMs: number[];
    /** median per decode step of the rest: the step's wall time less the stages' compute (RPCs, hops, serialization) */
    measuredRestMs: number;
    ratio: number;
    within25: boolean;
    /** share of the CPU other processes used while it was timed (null: unknown) */
    foreignCpu: number | null;
}

export interface SplitBenchResult {
    machine: { cpus: number; cpuModel: string; totalMemoryGiB: number };
    model: { layers: number; type: string; embd: number; ff: number; bytes: number; layerBytes: number; headBytes: number };
    nodes: Array<{ name: string; decodeMsPerLayer: number | null; layerBytes: number | null; msPerGB: number; profileMeasured: boolean; foreignCpu: number | null }>;
    link: { latencyMs: number; bandwidthMBs: number };
    contextTokens: number;
    decodeContextFraction: number;
    rows: SplitRow[];
    setupMs: { model: number; nodes: number; links: number };
    wallMs: number;
}

const median = (xs: readonly number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };
const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : "n/a");
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CACHE = path.join(os.tmpdir(), "hearth-bench-plan-split");

// ---- other work on the machine ----------------------------------------------------------------
// Decode is timed on every core, so anything else running here (another test, another benchmark)
// slows it and the speed tests alike. The share of the machine's CPU time used by processes other
// than this one and its children (the nodes) is measured over each timed phase (Linux /proc; null
// elsewhere), the bench waits for a quiet machine before each phase, and repeats a phase that was
// disturbed.

interface CpuSample { total: number; idle: number; own: number }

function cpuSample(): CpuSample | null {
    try {
        const cpu = fs.readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
        const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
        const idle = cpu[3]! + cpu[4]!;
        // this process (with its reaped children) and every live descendant
        const stats = new Map<number, { ppid: number; ticks: number }>();
        for (const e of fs.readdirSync("/proc")) {
            if (!/^\d+$/.test(e)) continue;
            try {
                const f = fs.readFileSync(`/proc/${e}/stat`, "utf8").split(") ").at(-1)!.split(" ");
                stats.set(Number(e), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) });
            } catch { /* gone */ }
        }
        const ours = (pid: number): boolean => { for (let p = pid, k = 0; p > 1 && k < 64; p = stats.get(p)?.ppid ?? 0, k++) if (p === process.pid) return true; return false; };
        let own = 0;
        for (const [pid, st] of stats) if (ours(pid)) own += st.ticks;
        return { total, idle, own };
    } catch {
        return null;
    }
}

/** Share of the machine's CPU time (0-1) used by other processes between two samples. */
function foreignShare(a: CpuSample | null, b: CpuSample | null): number | null {
    if (a == null || b == null || b.total <= a.total) return null;
    return Math.max(0, (b.total - a.total - (b.idle - a.idle) - (b.own - a.own)) / (b.total - a.total));
}

/** Waits (at most `maxMs`) until other processes use under `quiet` of the CPU over 2 s; resolves with how long it waited, or null when it gave up. */
async function waitForQuiet(quiet: number, maxMs: number): Promise<number | null> {
    const t0 = Date.now();
    for (;;) {
        const a = cpuSample();
        await delay(2000);
        const share = foreignShare(a, cpuSample());
        if (share == null || share < quiet) return Date.now() - t0;
        if (Date.now() - t0 > maxMs) return null;
    }
}
const NAMES = ["alpha", "beta"] as const;
const PROMPT = "The quick brown fox jumps over the lazy dog, and then";
/** the pipeline's stage options: small KV caches (the runs decode < 128 tokens of context) */
const STAGE = { contextSize: 512, maxSequences: 1, batchSize: 512 } as const;

async function getInfo(n: NodeProcess): Promise<NodeInfo__Output> {
    const c = await memberClient(n.address);
    try { await c.connect(); return await c.getInfo(); } finally { c.close(); }
}

function inventoryOf(info: NodeInfo__Output): MachineInventory | null {
    try { return info.inventoryJson === "" ? null : JSON.parse(info.inventoryJson) as MachineInventory; } catch { return null; }
}

async function until<T>(what: string, ms: number, fn: () => Promise<T | null>): Promise<T> {
    const t0 = Date.now();
    for (;;) {
        const v = await fn().catch(() => null);
        if (v != null) return v;
        if (Date.now() - t0 > ms) throw new Error(`timed out after ${Math.round(ms / 1000)} s waiting until ${what}`);
        await delay(250);
    }
}

interface Guard { quiet: number; waitMs: number; attempts: number; log: (l: string) => void }

/** Waits for a quiet machine before a timed phase (out of the run's budget for waiting), saying so when it had to wait or gave up. */
async function quietBefore(what: string, g: Guard): Promise<void> {
    const t0 = Date.now();
    const waited = await waitForQuiet(g.quiet, Math.max(0, g.waitMs));
    g.waitMs -= Date.now() - t0;
    if (waited == null) g.log(`  (other processes keep ${f(100 * g.quiet, 0)}% of the CPU or more busy, and the time to wait for them is used up: timing ${what} anyway)`);
    else if (waited > 5000) g.log(`  (waited ${f(waited / 1000, 0)} s for other processes to leave the CPU before timing ${what})`);
}

/**
 * Starts a node with the speed test, its cached profile (if any) copied in; resolves once its
 * profile is ready. A profile measured while other processes used the CPU is measured again
 * (the node restarted without it), and only an undisturbed one is cached.
 */
async function startMeasuredNode(name: string, dataDir: string, freshSpeed: boolean, g: Guard): Promise<{ node: NodeProcess; measured: boolean; foreignCpu: number | null }> {
    const cacheDir = path.join(CACHE, name);
    const cached = path.join(cacheDir, "speed-profile.json");
    fs.mkdirSync(dataDir, { recursive: true });
    let useCache = !freshSpeed && fs.existsSync(cached);
    for (let attempt = 1; ; attempt++) {
        fs.rmSync(speedProfileFile(dataDir), { force: true });
        if (useCache) fs.copyFileSync(cached, speedProfileFile(dataDir));
        if (!useCache) await quietBefore(`node ${name}'s speed test`, g);
        const before = cpuSample();
        const t0 = performance.now();
        const node = await startNode(name, dataDir, ["--speed-test"]);
        let info: NodeInfo__Output;
        try {
            info = await until(`node ${name}'s speed profile is ready`, 15 * 60_000, async () => {
                const i = await getInfo(node);
                const speed = inventoryOf(i)?.speed;
                if (speed?.status === "failed") throw new Error(`node ${name}'s speed test failed: ${speed.error}`);
                return speed?.status === "ready" ? i : null;
            });
        } catch (e) {
            await stopNode(node);
            throw e;
        }
        const foreignCpu = foreignShare(before, cpuSample());
        const profile = inventoryOf(info)!.speed.profile!;
        const measured = !useCache || fs.readFileSync(cached, "utf8") !== fs.readFileSync(speedProfileFile(dataDir), "utf8");
        const disturbed = measured && foreignCpu != null && foreignCpu >= g.quiet;
        g.log(`  node ${name} at ${node.address}: speed profile ${measured ? `measured in ${f((performance.now() - t0) / 1000)} s` : "from the cache"}` +
            `${measured && foreignCpu != null ? ` (other processes: ${f(100 * foreignCpu, 0)}% of the CPU)` : ""}: ` +
            profile.layers.map((l) => `${l.shape.name} ${l.shape.type} ${f(l.decodeMsPerToken, 3)} ms/layer of ${f(l.layerBytes / 1e6)} MB (${f(l.decodeMsPerToken / l.layerBytes * 1e9)} ms/GB)`).join(", "));
        if (disturbed && attempt < g.attempts) {
            g.log(`  (measuring node ${name}'s speed again: it was disturbed)`);
            await stopNode(node);
            useCache = false;
            continue;
        }
        if (measured && !disturbed) {
            fs.mkdirSync(cacheDir, { recursive: true });
            fs.copyFileSync(speedProfileFile(dataDir), cached);
        }
        return { node, measured, foreignCpu: measured ? foreignCpu : null };
    }
}

/** Each decode step's wall time and stage compute, recorded around pipeline.step. */
function recordSteps(p: RemotePipeline): { steps: Array<{ wallMs: number; stageMs: number[] }>; reset: () => void } {
    const rec = { steps: [] as Array<{ wallMs: number; stageMs: number[] }>, reset: () => { rec.steps.length = 0; } };
    const step = p.step.bind(p);
    p.step = async (req: StepRequest): Promise<StepResult> => {
        const t0 = performance.now();
        const r = await step(req);
        if (req.tokens.length === 1) rec.steps.push({ wallMs: performance.now() - t0, stageMs: [...r.stageMs] });
        return r;
    };
    return rec;
}

/** ms between tokens after the first, of one greedy generation. */
async function timedGeneration(p: RemotePipeline, prompt: number[], tokens: number): Promise<number[]> {
    const at: number[] = [];
    const result = await generate(p, { promptTokens: prompt, maxTokens: tokens, sampler: { temperature: 0 } }, {
        onEvent: (e) => { if (e.type === "token") at.push(performance.now()); }
    }).result;
    if (result.stopReason === "failed") throw result.error;
    return at.slice(1).map((t, i) => t - at[i]!);
}

export async function benchPlanSplit(o: SplitBenchOptions = {}): Promise<SplitBenchResult> {
    const log = o.log ?? ((l: string) => console.log(l));
    const layers = o.layers ?? 16, type = o.type ?? "q8_0", embd = o.embd ?? 2048, ff = o.ff ?? 5632;
    const nTokens = o.tokens ?? 64, runs = Math.max(1, o.runs ?? 3);
    const guard: Guard = { quiet: o.quietShare ?? 0.10, waitMs: o.quietWaitMs ?? 6 * 60_000, attempts: Math.max(1, o.attempts ?? 3), log };
    const started0 = performance.now();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-bench-split-"));
    const nodes: NodeProcess[] = [];
    let timer: NodeJS.Timeout | null = null;
    const timeoutMs = o.timeoutMs ?? 30 * 60_000;
    const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the split benchmark did not finish within ${f(timeoutMs / 1000, 0)} s`)), timeoutMs);
        timer.unref();
    });
    try {
        return await Promise.race([run(), timedOut]);
    } finally {
        if (timer != null) clearTimeout(timer);
        await Promise.all(nodes.map((n) => stopNode(n).catch(() => {})));
        fs.rmSync(dir, { recursive: true, force: true });
    }

    async function run(): Promise<SplitBenchResult> {
        log(`predicted vs measured ms/token of a 2-node split on this machine (${os.availableParallelism()} cores, ${f(os.totalmem() / 1024 ** 3)} GiB), nodes on 127.0.0.1`);
        // The model first (quantizing takes every core; the speed tests must have the machine to themselves).
        let t0 = performance.now();
        const modelPath = await buildModel(dir, `bench-llama-${layers}x${embd}-${type}`, {
            arch: "llama", vocab: "llama-spm", layers, embd, heads: 32, kvHeads: 8, ff, type, tied: false, seed: 11, contextLength: 4096
        });
        const modelMs = performance.now() - t0;
        const shape = modelShapeFromHeader(readGgufHeader(modelPath));
        const modelBytes = fs.statSync(modelPath).size;
        log(`  model: llama, ${layers} layers, embd ${embd}, ff ${ff}, ${type}: ${f(modelBytes / 1e6)} MB (${f(shape.layerBytes[0]! / 1e6, 2)} MB a layer, head ${f(shape.outputHeadBytes / 1e6)} MB), made in ${f(modelMs / 1000)} s`);

        // Nodes one after the other, so that neither speed test shares the cores with the other.
        t0 = performance.now();
        const started: Array<Awaited<ReturnType<typeof startMeasuredNode>>> = [];
        for (const name of NAMES) {
            const r = await startMeasuredNode(name, path.join(dir, `node-${name}`), o.freshSpeed === true, guard);
            nodes.push(r.node);
            started.push(r);
        }
        const nodesMs = performance.now() - t0;
        const readyAt = Date.now();
        t0 = performance.now();
        const settleMs = o.linkSettleMs ?? 65_000;
        const beforeLinks = cpuSample();
        const infos = await until("both nodes have measured their link to the other (latency and bandwidth)", settleMs + 120_000, async () => {
            if (Date.now() - readyAt < settleMs) return null;
            const is = await Promise.all(nodes.map(getInfo));
            const ok = is.every((i, k) => i.links.some((l) => l.nodeId === is[1 - k]!.nodeId && l.bandwidthMbs > 0));
            return ok ? is : null;
        });
        const linksMs = performance.now() - t0;
        const linkForeign = foreignShare(beforeLinks, cpuSample());
        for (const [k, i] of infos.entries()) {
            const l = i.links.find((x) => x.nodeId === infos[1 - k]!.nodeId)!;
            log(`  link ${NAMES[k]} → ${NAMES[1 - k]} as ${NAMES[k]} measured it: latency ${f(l.latencyMs, 3)} ms, ${f(l.bandwidthMbs)} MB/s` +
                `${linkForeign != null ? ` (other processes: ${f(100 * linkForeign, 0)}% of the CPU meanwhile)` : ""}`);
        }

        // The prediction, as a live host makes it, from the nodes' GetInfo answers.
        const members: LiveMember[] = infos.map((info, k) => ({ nodeId: info.nodeId, name: NAMES[k]!, address: nodes[k]!.address, info }));
        const input = livePlanInput(shape, members, { ...STAGE, activationBytesPerValue: 4 });
        const promptTokens = await (async () => { const t = await Tokenizer.load(modelPath); try { return t.encode(PROMPT); } finally { await t.dispose(); } })();
        // The runs decode at positions prompt … prompt + tokens: the KV they read is of that context, not of half of contextSize.
        const contextTokens = promptTokens.length + nTokens / 2;
        const decodeContextFraction = contextTokens / STAGE.contextSize;
        const costs = new StageCosts(input.model, input.members, input.links ?? makeLinks(), resolvePlanOptions({ ...input.options, decodeContextFraction }));
        const half = Math.floor(layers / 2);
        const configs: Array<{ split: string; stages: StageChoice[] }> = [
            { split: `1 node: alpha 0-${layers}`, stages: [{ member: 0, start: 0, end: layers, gpuLayers: 0 }] },
            { split: `2 nodes: alpha 0-${half}, beta ${half}-${layers}`, stages: [{ member: 0, start: 0, end: half, gpuLayers: 0 }, { member: 1, start: half, end: layers, gpuLayers: 0 }] }
        ];

        const coordinator = await testCoordinator();
        const coordDir = path.join(dir, "coordinator");
        const rows: SplitRow[] = [];
        for (const c of configs) {
            const predicted: PlanCost = evaluateStages(costs, c.stages);
            const overheads = c.stages.map((s) => input.members[s.member]!.overheadMsPerToken ?? costs.options.overheadMsPerToken);
            const p = await connectPipeline({
                modelPath, peers: c.stages.map((s) => nodes[s.member]!.address), layers: c.stages.map((s) => ({ start: s.start, end: s.end })),
                cluster: coordinator, dataDir: coordDir, stage: { ...STAGE, gpuLayers: 0 }, name: "bench"
            });
            const rec = recordSteps(p);
            let intervals: number[] = [], runMedians: number[] = [], foreignCpu: number | null = null;
            try {
                await timedGeneration(p, promptTokens, Math.min(16, nTokens)); // warm-up: pages the weights in
                for (let attempt = 1; ; attempt++) {
                    await quietBefore(c.split, guard);
                    rec.reset();
                    intervals = [];
                    runMedians = [];
                    const before = cpuSample();
                    for (let r = 0; r < runs; r++) {
                        const iv = await timedGeneration(p, promptTokens, nTokens);
                        intervals.push(...iv);
                        runMedians.push(median(iv));
                    }
                    foreignCpu = foreignShare(before, cpuSample());
                    if (foreignCpu == null || foreignCpu < guard.quiet || attempt >= guard.attempts) break;
                    log(`  (timing ${c.split} again: other processes used ${f(100 * foreignCpu, 0)}% of the CPU meanwhile)`);
                }
            } finally {
                await p.dispose();
            }
            const measuredMs = median(intervals);
            rows.push({
                split: c.split, stages: c.stages.map((s) => ({ node: NAMES[s.member]!, layers: [s.start, s.end] })),
                predictedMsPerToken: predicted.msPerToken, predictedStageMs: predicted.stageMs, predictedOverheadMs: overheads, predictedHopMs: predicted.hopMs,
                measuredMsPerToken: measuredMs, runMedians,
                measuredStageComputeMs: c.stages.map((_, i) => median(rec.steps.map((s) => s.stageMs[i] ?? NaN))),
                measuredRestMs: median(rec.steps.map((s) => s.wallMs - s.stageMs.reduce((a, b) => a + b, 0))),
                ratio: measuredMs / predicted.msPerToken, within25: Math.abs(measuredMs / predicted.msPerToken - 1) <= 0.25, foreignCpu
            });
        }

        log("");
        log(`  ${"split".padEnd(34)} ${"predicted".padStart(9)} ${"measured".padStart(9)} ${"ratio".padStart(6)}  within 25%  ms/token (each run's median; others' CPU share)`);
        for (const r of rows)
            log(`  ${r.split.padEnd(34)} ${f(r.predictedMsPerToken, 2).padStart(9)} ${f(r.measuredMsPerToken, 2).padStart(9)} ${f(r.ratio, 3).padStart(6)}  ${(r.within25 ? "yes" : "NO").padEnd(10)}  ` +
                `(${r.runMedians.map((x) => f(x, 2)).join(", ")}${r.foreignCpu != null ? `; ${f(100 * r.foreignCpu, 0)}%` : ""})`);
        if (rows.some((r) => r.foreignCpu != null && r.foreignCpu >= guard.quiet) || started.some((n) => n.foreignCpu != null && n.foreignCpu >= guard.quiet))
            log(`  (DISTURBED: other processes used ${f(100 * guard.quiet, 0)}% of the CPU or more during a speed test or a timed split: these figures are not this machine's)`);
        log("  the terms, predicted → measured (median of the decode steps):");
        for (const r of rows) {
            const stages = r.stages.map((s, i) => `${s.node} ${s.layers[0]}-${s.layers[1]} compute ${f(r.predictedStageMs[i]! - r.predictedOverheadMs[i]!, 2)} → ${f(r.measuredStageComputeMs[i]!, 2)}`).join(", ");
            const fixed = r.predictedOverheadMs.reduce((a, b) => a + b, 0) + r.predictedHopMs.reduce((a, b) => a + b, 0);
            log(`    ${r.split.padEnd(34)} ${stages}; overhead + hops ${f(fixed, 2)} → ${f(r.measuredRestMs, 2)}`);
        }
        log(`  (predicted: the cost model over the nodes' GetInfo answers (livePlanInput), at the runs' context of ${f(contextTokens, 0)} tokens;` +
            ` measured: greedy generations of ${nTokens} tokens after a ${promptTokens.length}-token prompt, ${runs} runs, through connectPipeline from this process;`);
        log(`   compute: llama.cpp's time on the node, decode and sampling; the rest: the step's wall time less the compute)`);

        const link = [...input.links!.pairs.values()][0] ?? input.links!.defaultLink;
        return {
            machine: { cpus: os.availableParallelism(), cpuModel: os.cpus()[0]?.model ?? "", totalMemoryGiB: os.totalmem() / 1024 ** 3 },
            model: { layers, type, embd, ff, bytes: modelBytes, layerBytes: shape.layerBytes[0]!, headBytes: shape.outputHeadBytes },
            nodes: NAMES.map((name, k) => {
                const sp = input.members[k]!.cpuSpeed;
                return {
                    name, decodeMsPerLayer: sp.kind === "measured" ? sp.decodeMsPerLayer : null, layerBytes: sp.kind === "measured" ? sp.layerBytes : null,
                    msPerGB: deviceMsPerByte(sp, costs.options) * 1e9, profileMeasured: started[k]!.measured, foreignCpu: started[k]!.foreignCpu
                };
            }),
            link: { latencyMs: link.latencyMs, bandwidthMBs: link.bandwidthMBs },
            contextTokens, decodeContextFraction, rows,
            setupMs: { model: modelMs, nodes: nodesMs, links: linksMs },
            wallMs: performance.now() - started0
        };
    }
}

if (process.argv[1] != null && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
    const { values } = parseArgs({
        options: {
            layers: { type: "string", default: "16" }, type: { type: "string", default: "q8_0" }, embd: { type: "string", default: "2048" }, ff: { type: "string", default: "5632" },
            tokens: { type: "string", default: "64" }, runs: { type: "string", default: "3" }, json: { type: "boolean", default: false },
            "fresh-speed": { type: "boolean", default: false }, "link-settle-s": { type: "string", default: "65" }, "timeout-min": { type: "string", default: "30" }
        }
    });
    try {
        const result = await benchPlanSplit({
            layers: Number(values.layers), type: values.type as ModelType, embd: Number(values.embd), ff: Number(values.ff),
            tokens: Number(values.tokens), runs: Number(values.runs), freshSpeed: values["fresh-speed"],
            linkSettleMs: Number(values["link-settle-s"]) * 1000, timeoutMs: Number(values["timeout-min"]) * 60_000,
            log: values.json ? () => {} : (l) => console.log(l)
        });
        if (values.json) console.log(JSON.stringify(result, null, 2));
        process.exit(0);
    } catch (e) {
        console.error(`bench-plan-split: ${e instanceof Error ? e.message : String(e)}`);
        process.exit(1);
    }
}
