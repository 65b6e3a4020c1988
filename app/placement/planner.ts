// The placement planner (pure): which members take part, in which order, which contiguous layers
// each one runs and how many of them on its GPU, so that nothing overfills a device (margins kept,
// cost-model.ts) and the objective is best: "latency" (least ms per token for one chat) or
// "throughput" (most tokens/s over many chats: the least slowest stage, its outgoing hop included;
// among plans as good, the one with the least latency).
//
// How it searches:
// 1. A table of the best stage for every (member, start, end): the n_gpu_layers that makes it
//    fastest while it fits. A stage's time changes by the same sign for every layer moved from the
//    CPU to the GPU, and its GPU memory grows while its RAM shrinks with n_gpu_layers, so the best
//    is at an end of the feasible range: the largest n_gpu_layers the GPU holds (binary search),
//    the smallest the RAM allows (binary search), all-on-CPU, or all-on-GPU (the last two cover a
//    unified pool, where a split stage holds two sets of compute buffers). A range that does not fit
//    means no longer range from the same start fits either, which cuts the table short.
// 2. For one order of the members, the first of them forced to take part and any of the others
//    skipped, an exact search over the splits:
//    - latency: a DP over (member in order, end layer): f[j][e] = min over the previous member i
//      and start s of f[i][s] + hop(i → j) + stage(j, s, e); O(K² L + K L²);
//    - throughput: a DP over (member in order, start layer) of the slowest stage so far, each
//      stage's hop counted when the next member is chosen, O(K² L²) at most (ranges slower than
//      the best so far are cut); then, among the splits of the best orders that are within the
//      best bottleneck, a DP for the least latency, O(K² L²).
// 3. Orders: up to exactMaxMembers (5) members, every permutation (the first member of each
//    forced, the rest skippable, covers every ordered subset): the plan is optimal. Above that, a
//    heuristic: members sorted by their fastest device, that order with each member moved to the
//    front and with each moved to the back (who holds the input table, who the output head, who
//    closes the ring), then a local search that moves any one member to any other place while that
//    helps. Within an order the split is still exact. scripts/bench-plan.ts measures how far this
//    lands from trying every order.
import {
    evaluateStages, resolvePlanOptions, StageCosts, DEFAULT_LINK, makeLinks, linkBetween,
    type Backend, type Links, type Member, type PlanObjective, type PlanOptions, type StageChoice
} from "./cost-model.ts";
import { activeLayerBytes, type ModelShape } from "./model-shape.ts";
import { formatBytes } from "../util/format.ts";

export interface PlanInput {
    model: ModelShape;
    members: readonly Member[];
    /** defaults to DEFAULT_LINK between every two members */
    links?: Links;
    options?: Partial<PlanOptions>;
}

/** Memory of a stage against what its member may use. For a unified member the RAM figures are the shared pool (GPU part included) and the VRAM figures the GPU's part against its working-set limit. */
export interface StageMemoryUse {
    unified: boolean;
    ramUsedBytes: number;
    ramUsableBytes: number;
    ramLeftBytes: number;
    vramUsedBytes: number;
    vramUsableBytes: number;
    vramLeftBytes: number;
}

export interface PlanStage {
    member: string;
    backend: Backend;
    /** [start, end): end exclusive, as `hearth generate --layers` */
    layers: [number, number];
    layerCount: number;
    /** layers on the GPU (llama.cpp puts the stage's last ones there) and on the CPU */
    gpuLayers: number;
    cpuLayers: number;
    /** the output head on the GPU (last stage only) */
    outputOnGpu: boolean;
    /** the stage's StageOptions.gpuLayers (n_gpu_layers): gpuLayers, plus 1 when the head is on the GPU */
    gpuLayersOption: number;
    /** it holds the input embedding table (first stage) / the output head (last stage) */
    inputEmbedding: boolean;
    outputHead: boolean;
    /** RAM + GPU memory of the stage */
    memoryBytes: number;
    memory: StageMemoryUse;
    weightsBytes: number;
    gpuWeightsBytes: number;
    /** of the weights, those one token reads: its layers (a mixture-of-experts layer's active experts only) and the head */
    activeWeightsBytes: number;
    kvBytes: number;
    workBytes: number;
    /** the stage's compute per token of one chat */
    predictedMsPerToken: number;
    /** the hop it sends per token: activations to the next stage, or the token back to the first; 0 for one stage */
    hopMsPerToken: number;
    hopTo: string | null;
}

export interface Plan {
    model: string;
    objective: PlanObjective;
    contextSize: number;
    maxSequences: number;
    batchSize: number;
    stages: PlanStage[];
    /** the layer ranges as `hearth generate --layers` takes them: "0-40,40-80" */
    layers: string;
    /** one chat: stages + hops */
    predictedMsPerToken: number;
    /** one chat: 1000 / predictedMsPerToken */
    predictedTokensPerSecond: number;
    /** many chats: 1000 / the slowest stage with its hop */
    predictedManyChatsTokensPerSecond: number;
    bottleneck: { member: string; msPerToken: number };
    /** members the plan leaves out (not needed, or too small for any stage) */
    idleMembers: string[];
    /** "exact": every order was tried; "heuristic": more members than exactMaxMembers */
    search: "exact" | "heuristic";
    /** a mixture-of-experts model: its experts, and of its weights the bytes one token reads (the stages' active weights) */
    experts?: { count: number; used: number; activeWeightsBytes: number; weightsBytes: number };
    /** the model's architecture allows only these split points (and why): the plan's stages start and end at them */
    splitPoints?: { points: number[]; reason: string };
    summary: string;
}

// ---- the table of best stages -----------------------------------------------------------------

interface Table {
    L1: number;
    M: number;
    /** ms per token of the best stage, Infinity when none fits: time[(m × L1 + s) × L1 + e] */
    time: Float64Array;
    gpu: Int32Array;
    /** endAllowed[e] = 1 where a stage may end (the model's split points, and its last layer) */
    endAllowed: Uint8Array;
}

/** The fastest n_gpu_layers for member m on [s, e) that fits, or -1. */
export function bestGpuLayers(costs: StageCosts, m: number, s: number, e: number): number {
    if (!costs.hasGpu(m)) return costs.fits(m, s, e, 0) ? 0 : -1;
    const units = costs.maxGpuLayers(s, e);
    const V = costs.gpuUsable(m);
    let lo = 0, hi = units;
    while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (costs.vramBytes(s, e, mid) <= V) lo = mid; else hi = mid - 1;
    }
    const gHi = lo;
    let gLo = 0;
    if (!costs.isUnified(m)) {
        const R = costs.ramUsable(m);
        if (costs.ramBytes(s, e, gHi) > R) return -1;
        lo = 0; hi = gHi;
        while (lo < hi) {
            const mid = (lo + hi) >> 1;
            if (costs.ramBytes(s, e, mid) <= R) hi = mid; else lo = mid + 1;
        }
        gLo = lo;
    }
    let best = -1, bestMs = Infinity;
    for (const g of [gHi, units, gLo, 0]) {
        if (g === best || !costs.fits(m, s, e, g)) continue;
        const ms = costs.msPerToken(m, s, e, g);
        if (ms < bestMs) { bestMs = ms; best = g; }
    }
    return best;
}

function buildTable(costs: StageCosts): Table {
    const L = costs.nLayer, L1 = L + 1, M = costs.members.length;
    // Where a stage may end: the model's end, and its split points (every layer when unrestricted).
    const endAllowed = new Uint8Array(L1).fill(costs.model.splitPoints == null ? 1 : 0);
    for (const k of costs.model.splitPoints ?? []) if (Number.isInteger(k) && k > 0 && k < L) endAllowed[k] = 1;
    endAllowed[L] = 1;
    const time = new Float64Array(M * L1 * L1).fill(Infinity);
    const gpu = new Int32Array(M * L1 * L1).fill(-1);
    for (let m = 0; m < M; m++) {
        for (let s = 0; s < L; s++) {
            const base = (m * L1 + s) * L1;
            for (let e = s + 1; e <= L; e++) {
                const g = bestGpuLayers(costs, m, s, e);
                if (g < 0) break; // a longer range from s fits no better
                const t = costs.msPerToken(m, s, e, g);
                time[base + e] = t;
                gpu[base + e] = g;
            }
        }
    }
    return { L1, M, time, gpu, endAllowed };
}

// ---- one order ----------------------------------------------------------------------------------

interface Searcher {
    costs: StageCosts;
    table: Table;
    L: number;
}

/** The least latency for this order (its first member forced, the others skippable), with its stages. */
function latencyForOrder(S: Searcher, o: readonly number[]): { value: number; stages: StageChoice[] } | null {
    const { table, L } = S;
    const { L1, M, time, endAllowed } = table;
    const fwd = S.costs.fwdHop, ret = S.costs.returnHop;
    const K = o.length;
    const f = new Float64Array(K * L1).fill(Infinity);
    const fromS = new Int32Array(K * L1);
    const hArg = new Int32Array(K * L1);
    const h = new Float64Array(L1);
    const o0 = o[0]!;
    const base0 = o0 * L1 * L1;
    for (let e = 1; e <= L; e++) if (endAllowed[e]) f[e] = time[base0 + e]!;
    for (let j = 1; j < K; j++) {
        const oj = o[j]!;
        for (let s = 1; s < L; s++) {
            let best = Infinity, arg = -1;
            for (let i = 0; i < j; i++) {
                const v = f[i * L1 + s]! + fwd[o[i]! * M + oj]!;
                if (v < best) { best = v; arg = i; }
            }
            h[s] = best;
            hArg[j * L1 + s] = arg;
        }
        const row = j * L1;
        for (let s = 1; s < L; s++) {
            const hs = h[s]!;
            if (hs === Infinity) continue;
            const base = (oj * L1 + s) * L1;
            for (let e = s + 1; e <= L; e++) {
                const t = time[base + e]!;
                if (t === Infinity) break;
                if (!endAllowed[e]) continue;
                const v = hs + t;
                if (v < f[row + e]!) { f[row + e] = v; fromS[row + e] = s; }
            }
        }
    }
    let value = f[L]!, bestJ = 0;
    for (let j = 1; j < K; j++) {
        const v = f[j * L1 + L]! + ret[o[j]! * M + o0]!;
        if (v < value) { value = v; bestJ = j; }
    }
    if (value === Infinity) return null;
    const stages: StageChoice[] = [];
    let j = bestJ, e = L;
    for (;;) {
        const s = j === 0 ? 0 : fromS[j * L1 + e]!;
        const m = o[j]!;
        stages.push({ member: m, start: s, end: e, gpuLayers: table.gpu[(m * L1 + s) * L1 + e]! });
        if (j === 0) break;
        j = hArg[j * L1 + s]!;
        e = s;
    }
    return { value, stages: stages.reverse() };
}

/**
 * The least bottleneck of this order (every stage's time with the hop it sends), if it is at most
 * `upper` (else null): a DP over (member in order, start layer) whose value is the slowest of the
 * stages before it (each with its hop, known once the next member is): V[k][e] = min over j < k
 * and s of max(V[j][s], stage(j, s, e) + hop(j → k)). States and ranges that cannot beat the best
 * so far are cut (a stage is never faster with more layers).
 */
function bottleneckForOrder(S: Searcher, o: readonly number[], upper: number): number | null {
    const { table, L } = S;
    const { L1, M, time, endAllowed } = table;
    const fwd = S.costs.fwdHop, ret = S.costs.returnHop;
    const K = o.length;
    const o0 = o[0]!;
    const cap = upper === Infinity ? Infinity : upper * (1 + 1e-9); // as good as `upper` still counts (ties)
    const V = new Float64Array(K * L1).fill(Infinity);
    V[0] = 0;
    let best = Infinity;
    for (let j = 0; j < K; j++) {
        const oj = o[j]!;
        const back = j > 0 ? ret[oj * M + o0]! : 0;
        for (let s = 0; s < L; s++) {
            const v = V[j * L1 + s]!;
            if (!(v < best)) continue;
            const base = (oj * L1 + s) * L1;
            for (let e = s + 1; e <= L; e++) {
                const t = time[base + e]!;
                if (!(t < best) || t > cap) break;
                if (!endAllowed[e]) continue;
                if (e === L) {
                    const c = Math.max(v, t + back);
                    if (c < best && c <= cap) best = c;
                    continue;
                }
                for (let k = j + 1; k < K; k++) {
                    const c = Math.max(v, t + fwd[oj * M + o[k]!]!);
                    if (c < V[k * L1 + e]! && c < best && c <= cap) V[k * L1 + e] = c;
                }
            }
        }
    }
    return best === Infinity ? null : best;
}

/** The least latency among the plans of this order whose every stage with its hop is within T. */
function latencyWithin(S: Searcher, o: readonly number[], T: number): { value: number; stages: StageChoice[] } | null {
    const { table, L } = S;
    const { L1, M, time, endAllowed } = table;
    const fwd = S.costs.fwdHop, ret = S.costs.returnHop;
    const K = o.length;
    const o0 = o[0]!;
    const A = new Float64Array(K * L1).fill(Infinity);
    const parJ = new Int32Array(K * L1).fill(-1);
    const parS = new Int32Array(K * L1).fill(-1);
    A[0] = 0;
    let bestValue = Infinity, bestJ = -1, bestS = -1;
    for (let j = 0; j < K; j++) {
        const oj = o[j]!;
        for (let s = 0; s < L; s++) {
            const a = A[j * L1 + s]!;
            if (a === Infinity) continue;
            const base = (oj * L1 + s) * L1;
            for (let e = s + 1; e <= L; e++) {
                const t = time[base + e]!;
                if (!(t <= T)) break;
                if (!endAllowed[e]) continue;
                if (e === L) {
                    const c = t + (j > 0 ? ret[oj * M + o0]! : 0);
                    if (c <= T && a + c < bestValue) { bestValue = a + c; bestJ = j; bestS = s; }
                    continue;
                }
                for (let k = j + 1; k < K; k++) {
                    const c = t + fwd[oj * M + o[k]!]!;
                    if (c > T) continue;
                    const v = a + c;
                    if (v < A[k * L1 + e]!) { A[k * L1 + e] = v; parJ[k * L1 + e] = j; parS[k * L1 + e] = s; }
                }
            }
        }
    }
    if (bestJ < 0) return null;
    const stages: StageChoice[] = [];
    let j = bestJ, s = bestS, e = L;
    for (;;) {
        const m = o[j]!;
        stages.push({ member: m, start: s, end: e, gpuLayers: table.gpu[(m * L1 + s) * L1 + e]! });
        if (j === 0) break;
        const pj = parJ[j * L1 + s]!, ps = parS[j * L1 + s]!;
        e = s; j = pj; s = ps;
    }
    return { value: bestValue, stages: stages.reverse() };
}

// ---- orders -------------------------------------------------------------------------------------

function permutations(n: number): number[][] {
    const out: number[][] = [];
    const cur: number[] = [];
    const used = new Array<boolean>(n).fill(false);
    const rec = () => {
        if (cur.length === n) { out.push([...cur]); return; }
        for (let i = 0; i < n; i++) {
            if (used[i]) continue;
            used[i] = true; cur.push(i); rec(); cur.pop(); used[i] = false;
        }
    };
    rec();
    return out;
}

function heuristicOrders(costs: StageCosts): number[][] {
    const M = costs.members.length;
    const base = Array.from({ length: M }, (_, i) => i).sort((a, b) =>
        costs.bestMsPerByte(a) - costs.bestMsPerByte(b) ||
        (costs.ramUsable(b) + costs.gpuUsable(b)) - (costs.ramUsable(a) + costs.gpuUsable(a)) ||
        costs.members[a]!.name.localeCompare(costs.members[b]!.name));
    const orders = [base];
    for (const x of base) orders.push([x, ...base.filter((y) => y !== x)]);
    for (const x of base) orders.push([...base.filter((y) => y !== x), x]);
    return orders;
}

/** Finds the best plan, or null when the model fits no way on these members. */
export function findPlan(input: PlanInput): Plan | null {
    const options = resolvePlanOptions(input.options);
    const members = input.members;
    if (members.length === 0) return null;
    const names = new Set(members.map((m) => m.name));
    if (names.size !== members.length) throw new RangeError("member names must be unique");
    const links = input.links ?? makeLinks(DEFAULT_LINK);
    const costs = new StageCosts(input.model, members, links, options);
    const table = buildTable(costs);
    const S: Searcher = { costs, table, L: input.model.nLayer };
    const exact = members.length <= options.exactMaxMembers;
    const objective = options.objective;

    const evaluated = new Map<string, number>();
    const best: { order: number[] | null; value: number } = { order: null, value: Infinity };
    const evaluate = (o: number[]): void => {
        const key = o.join(",");
        if (evaluated.has(key)) return;
        const v = objective === "latency" ? (latencyForOrder(S, o)?.value ?? Infinity) : (bottleneckForOrder(S, o, best.value) ?? Infinity);
        evaluated.set(key, v);
        if (v < best.value) { best.value = v; best.order = o; }
    };

    if (exact) {
        for (const o of permutations(members.length)) evaluate(o);
    } else {
        for (const o of heuristicOrders(costs)) evaluate(o);
        // Local search: move any one member to any other place, while that helps.
        for (let pass = 0; pass < 2 * members.length && best.order !== null; pass++) {
            const before = best.value;
            const current = best.order;
            for (let i = 0; i < current.length; i++) {
                const rest = current.filter((_, k) => k !== i);
                for (let at = 0; at <= rest.length; at++) {
                    if (at === i) continue;
                    evaluate([...rest.slice(0, at), current[i]!, ...rest.slice(at)]);
                }
            }
            if (!(best.value < before)) break;
        }
    }
    const bestOrder = best.order, bestValue = best.value;
    if (bestOrder === null || bestValue === Infinity) return null;

    let stages: StageChoice[];
    if (objective === "latency") {
        stages = latencyForOrder(S, bestOrder)!.stages;
    } else {
        // Among the orders as good as the best (within rounding of the bisection), the least latency.
        const T = bestValue * (1 + 1e-9);
        let chosen: { value: number; stages: StageChoice[] } | null = null;
        for (const [key, v] of evaluated) {
            if (!(v <= T)) continue;
            const r = latencyWithin(S, key.split(",").map(Number), T);
            if (r !== null && (chosen === null || r.value < chosen.value)) chosen = r;
        }
        stages = chosen!.stages;
    }
    return describePlan(costs, stages, objective, exact ? "exact" : "heuristic");
}

// ---- explanations -------------------------------------------------------------------------------

function describePlan(costs: StageCosts, choices: StageChoice[], objective: PlanObjective, search: "exact" | "heuristic"): Plan {
    const { members, options, model } = costs;
    const cost = evaluateStages(costs, choices);
    const stages: PlanStage[] = choices.map((c, i) => {
        const est = costs.estimate(c.member, c.start, c.end, c.gpuLayers);
        const usable = costs.usable[c.member]!;
        const member = members[c.member]!;
        const ramUsed = usable.unified ? est.ramBytes + est.vramBytes : est.ramBytes;
        const next = choices.length === 1 ? null : choices[(i + 1) % choices.length]!;
        return {
            member: member.name, backend: member.backend,
            layers: [c.start, c.end], layerCount: c.end - c.start,
            gpuLayers: est.gpuLayers, cpuLayers: est.cpuLayers, outputOnGpu: est.outputOnGpu, gpuLayersOption: c.gpuLayers,
            inputEmbedding: est.first, outputHead: est.last,
            memoryBytes: est.ramBytes + est.vramBytes,
            memory: {
                unified: usable.unified,
                ramUsedBytes: ramUsed, ramUsableBytes: usable.ramBytes, ramLeftBytes: usable.ramBytes - ramUsed,
                vramUsedBytes: est.vramBytes, vramUsableBytes: costs.hasGpu(c.member) ? usable.gpuBytes : 0,
                vramLeftBytes: (costs.hasGpu(c.member) ? usable.gpuBytes : 0) - est.vramBytes
            },
            weightsBytes: est.weightsBytes, gpuWeightsBytes: est.gpuWeightsBytes, activeWeightsBytes: est.activeWeightsBytes, kvBytes: est.kvBytes, workBytes: est.workBytes,
            predictedMsPerToken: cost.stageMs[i]!, hopMsPerToken: cost.hopMs[i]!,
            hopTo: next === null ? null : members[next.member]!.name
        };
    });
    const used = new Set(stages.map((s) => s.member));
    const plan: Plan = {
        model: model.name, objective,
        contextSize: options.contextSize, maxSequences: options.maxSequences, batchSize: options.batchSize,
        stages,
        layers: stages.map((s) => `${s.layers[0]}-${s.layers[1]}`).join(","),
        predictedMsPerToken: cost.msPerToken,
        predictedTokensPerSecond: 1000 / cost.msPerToken,
        predictedManyChatsTokensPerSecond: 1000 / cost.bottleneckMs,
        bottleneck: { member: stages[cost.bottleneckIndex]!.member, msPerToken: cost.bottleneckMs },
        idleMembers: members.map((m) => m.name).filter((n) => !used.has(n)),
        search,
        ...(model.experts === undefined ? {} : {
            experts: {
                ...model.experts,
                activeWeightsBytes: stages.reduce((a, s) => a + s.activeWeightsBytes, 0),
                weightsBytes: stages.reduce((a, s) => a + s.weightsBytes, 0)
            }
        }),
        ...(model.splitPoints === undefined ? {} : { splitPoints: { points: model.splitPoints, reason: model.splitRule ?? "" } }),
        summary: ""
    };
    plan.summary = planSummary(plan);
    return plan;
}

function num(n: number): string {
    return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

/** One line: where the model runs and how fast. */
export function planSummary(plan: Plan): string {
    const where = plan.stages.length === 1 ? `on ${plan.stages[0]!.member} alone` : `on ${plan.stages.length} machines (${plan.stages.map((s) => s.member).join(" → ")})`;
    const weights = plan.stages.reduce((a, s) => a + s.memoryBytes, 0);
    return `${plan.model} ${where}: ${num(plan.predictedTokensPerSecond)} tokens/s for one chat (${num(plan.predictedMsPerToken)} ms/token), ` +
        `${num(plan.predictedManyChatsTokensPerSecond)} tokens/s over many chats (slowest: ${plan.bottleneck.member}); ` +
        `${formatBytes(weights)} in all, context ${plan.contextSize} × ${plan.maxSequences} sequences, objective ${plan.objective}` +
        (plan.search === "heuristic" ? " (order by heuristic)" : "") +
        (plan.experts === undefined ? "" : `; mixture of experts: ${plan.experts.used} of ${plan.experts.count} per token, ` +
            `so a token reads ${formatBytes(plan.experts.activeWeightsBytes)} of the ${formatBytes(plan.experts.weightsBytes)} of weights held`) +
        (plan.splitPoints === undefined ? "" : `; split only at layers ${plan.splitPoints.points.join(", ") || "(none: one machine)"} (${plan.splitPoints.reason})`);
}

/**
 * The bandwidth bound of a plan's ms per token: over its stages, the weight bytes each device reads
 * per token (layers, of a mixture-of-experts layer its active experts only, and the head on the
 * last stage) / that device's memory bandwidth, plus each hop's link latency. null when a member
 * used gives no bandwidth (a measured speed only).
 */
export function bandwidthBoundMsPerToken(plan: Plan, input: PlanInput): number | null {
    const byName = new Map(input.members.map((m) => [m.name, m]));
    const links = input.links ?? makeLinks(DEFAULT_LINK);
    const L = input.model.nLayer;
    let ms = 0;
    for (const s of plan.stages) {
        const m = byName.get(s.member)!;
        const ramBW = m.memoryBandwidthGBs ?? (m.cpuSpeed.kind === "bandwidth" ? m.cpuSpeed.bandwidthGBs : undefined);
        const gpuBW = m.gpu?.unified ? (m.gpuBandwidthGBs ?? ramBW) : (m.gpuBandwidthGBs ?? (m.gpuSpeed?.kind === "bandwidth" ? m.gpuSpeed.bandwidthGBs : undefined));
        const [start, end] = s.layers;
        let cpuBytes = 0, gpuBytes = 0;
        for (let l = start; l < end; l++) (l >= end - s.gpuLayers ? (gpuBytes += activeLayerBytes(input.model, l)) : (cpuBytes += activeLayerBytes(input.model, l)));
        if (end === L) (s.outputOnGpu ? (gpuBytes += input.model.outputHeadBytes) : (cpuBytes += input.model.outputHeadBytes));
        if ((cpuBytes > 0 && ramBW === undefined) || (gpuBytes > 0 && gpuBW === undefined)) return null;
        ms += (cpuBytes > 0 ? cpuBytes / (ramBW! * 1e6) : 0) + (gpuBytes > 0 ? gpuBytes / (gpuBW! * 1e6) : 0);
        if (s.hopTo !== null) ms += linkBetween(links, s.member, s.hopTo).latencyMs;
    }
    return ms;
}
