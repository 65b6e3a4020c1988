// When a model fits no way on the cluster (pure): by how much, and what would make it fit — a
// machine to add (the least memory it must bring, found by asking the planner), a smaller
// quantization (the model's tensors scaled by bits per weight), a shorter context or fewer
// sequences (the largest that fit). Every suggestion is checked with the planner before it is made.
import { resolvePlanOptions, StageCosts, DEFAULT_LINK, makeLinks, usableMemory, type Member, type PlanOptions } from "./cost-model.ts";
import { findPlan, type Plan, type PlanInput } from "./planner.ts";
import { requantizedShape } from "./model-shape.ts";
import { quantizationByName, SUGGESTED_QUANTIZATIONS } from "./quantization.ts";
import { formatBytes } from "../util/format.ts";

export type FitSuggestion =
    /** add a machine that brings at least `bytes` usable (a computer of about `machineBytes` of RAM) */
    | { kind: "add-machine"; text: string; bytes: number; machineBytes: number }
    /** the same model in a smaller quantization, `modelBytes` in all */
    | { kind: "quantization"; text: string; quantization: string; modelBytes: number }
    /** the largest context that fits (with the same sequences) */
    | { kind: "context"; text: string; contextSize: number }
    /** the most sequences that fit (with the same context) */
    | { kind: "sequences"; text: string; maxSequences: number };

/** What `hearth plan --json` prints when the model cannot fit. */
export interface NoFitReport {
    /** the human sentence */
    error: string;
    model: string;
    /** the least usable memory one more machine would have to bring for the model to fit */
    shortfallBytes: number;
    /** the model with this context as one stage: weights, KV cache and buffers */
    needBytes: number;
    /** all the members' usable memory (free less the margins; a unified pool once) */
    usableBytes: number;
    contextSize: number;
    maxSequences: number;
    suggestions: FitSuggestion[];
}

export class PlanDoesNotFitError extends Error {
    /** whether the command was asked for --json (its wiring then prints `json` and exits 1) */
    jsonRequested = false;
    constructor(readonly json: NoFitReport) {
        super(json.error);
        this.name = "PlanDoesNotFitError";
    }
}

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

function fits(input: PlanInput, options: Partial<PlanOptions>): boolean {
    return findPlan({ ...input, options: { ...input.options, ...options, objective: "latency" } }) !== null;
}

/** The RAM a machine needs so that `usable` bytes stay once the margin is kept. */
export function machineBytesFor(usable: number, options: Pick<PlanOptions, "marginFraction" | "marginMinBytes">): number {
    const byFraction = usable / (1 - options.marginFraction);
    return options.marginFraction * byFraction >= options.marginMinBytes ? byFraction : usable + options.marginMinBytes;
}

function extraMachine(name: string, usable: number, options: PlanOptions): Member {
    const total = Math.ceil(machineBytesFor(usable, options));
    return { name, backend: "cpu", ram: { totalBytes: total, freeBytes: total }, gpu: null, cpuSpeed: { kind: "bandwidth", bandwidthGBs: 20 }, gpuSpeed: null };
}

/** Why the model does not fit, and the fixes (call it when findPlan gave null). */
export function explainNoFit(input: PlanInput): NoFitReport {
    const options = resolvePlanOptions(input.options);
    const links = input.links ?? makeLinks(DEFAULT_LINK);
    const model = input.model;
    const costs = new StageCosts(model, input.members, links, options);
    const needBytes = costs.ramBytes(0, model.nLayer, 0);
    const usableBytes = input.members.reduce((sum, m) => {
        const u = usableMemory(m, options);
        return sum + u.ramBytes + (u.unified || m.gpu === null ? 0 : u.gpuBytes);
    }, 0);
    const suggestions: FitSuggestion[] = [];

    // One more machine: the least usable memory that makes it fit (alone it would hold all of it).
    let name = "new machine";
    for (let i = 2; input.members.some((m) => m.name === name); i++) name = `new machine ${i}`;
    const withExtra = (bytes: number) => fits({ ...input, members: [...input.members, extraMachine(name, bytes, options)] }, {});
    let lo = 0, hi = Math.ceil(needBytes) + MiB;
    while (hi - lo > 16 * MiB) {
        const mid = Math.floor((lo + hi) / 2);
        if (withExtra(mid)) hi = mid; else lo = mid;
    }
    const shortfallBytes = hi;
    const machineBytes = Math.ceil(machineBytesFor(shortfallBytes, options) / GiB) * GiB;
    suggestions.push({
        kind: "add-machine", bytes: shortfallBytes, machineBytes,
        text: `add a machine with at least ${formatBytes(shortfallBytes)} free for Hearth (such as a computer with ${formatBytes(machineBytes)} of RAM)`
    });

    // A smaller quantization: the largest that fits.
    const current = model.quantization === null ? model.bitsPerWeight : quantizationByName(model.quantization)!.bitsPerWeight;
    let smallest: { name: string; bytes: number } | null = null;
    for (const q of SUGGESTED_QUANTIZATIONS.map((n) => quantizationByName(n)!)) {
        if (q.bitsPerWeight >= current - 1e-9) continue;
        const shape = requantizedShape(model, q);
        smallest = { name: q.name, bytes: shape.totalBytes };
        if (findPlan({ ...input, model: shape, options: { ...input.options, objective: "latency" } }) !== null) {
            suggestions.push({
                kind: "quantization", quantization: q.name, modelBytes: shape.totalBytes,
                text: `use the model in ${q.name} (about ${formatBytes(shape.totalBytes)} instead of ${formatBytes(model.totalBytes)})`
            });
            smallest = null;
            break;
        }
    }

    // A shorter context, fewer sequences: the largest that fit.
    const largest = (from: number, test: (n: number) => boolean): number => {
        if (from <= 1 || !test(1)) return 0;
        let a = 1, b = from - 1;
        while (a < b) {
            const mid = Math.floor((a + b + 1) / 2);
            if (test(mid)) a = mid; else b = mid - 1;
        }
        return a;
    };
    let context = largest(options.contextSize, (c) => fits(input, { contextSize: c }));
    if (context >= 512) context -= context % 256;
    if (context >= 256)
        suggestions.push({ kind: "context", contextSize: context, text: `use a context of ${context} tokens (--context ${context}) instead of ${options.contextSize}` });
    const sequences = largest(options.maxSequences, (n) => fits(input, { maxSequences: n }));
    if (sequences >= 1)
        suggestions.push({ kind: "sequences", maxSequences: sequences, text: `hold ${sequences} sequence${sequences === 1 ? "" : "s"} at once (--max-sequences ${sequences}) instead of ${options.maxSequences}` });

    const where = input.members.length === 0 ? "no machines" : input.members.map((m) => m.name).join(", ");
    const margin = `each device keeps ${Math.round(options.marginFraction * 100)}% or ${formatBytes(options.marginMinBytes)} free, whichever is more`;
    const fixes = suggestions.map((s) => s.text);
    const split = shortfallBytes > needBytes - usableBytes + 64 * MiB
        ? " (more than the difference: every stage holds compute buffers of its own, and a layer does not split across devices)" : "";
    const error = `${model.name} does not fit on ${where}: with a context of ${options.contextSize} tokens × ${options.maxSequences} sequences it needs about ` +
        `${formatBytes(needBytes)} as one stage, and ${formatBytes(usableBytes)} is usable (${margin}); ` +
        `one more machine would have to bring ${formatBytes(shortfallBytes)}${split}. ` +
        `To make it fit: ${fixes.length === 1 ? fixes[0] : `${fixes.slice(0, -1).join("; ")}; or ${fixes.at(-1)}`}` +
        (smallest !== null ? ` (even ${smallest.name}, about ${formatBytes(smallest.bytes)}, would not fit)` : "") + ".";
    return { error, model: model.name, shortfallBytes, needBytes, usableBytes, contextSize: options.contextSize, maxSequences: options.maxSequences, suggestions };
}

/** The best plan, or PlanDoesNotFitError with the shortfall and the fixes. */
export function planOrThrow(input: PlanInput): Plan {
    const plan = findPlan(input);
    if (plan === null) throw new PlanDoesNotFitError(explainNoFit(input));
    return plan;
}
