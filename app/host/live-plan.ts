// A plan over the members that answer now: each one's memory and speed as its node reports them
// (GetInfo: what its stages may still use in RAM and GPU memory, within its limits; its inventory:
// the measured speed profile; its measured links to the others), fed to the planner
// (placement/planner.ts).
import type { MachineInventory } from "../cluster/inventory.ts";
import { DEFAULT_LINK, deviceSpeedFromProfile, linkKey, makeLinks, type DeviceSpeed, type Links, type Member, type PlanObjective } from "../placement/cost-model.ts";
import type { ModelShape } from "../placement/model-shape.ts";
import { explainNoFit } from "../placement/no-fit.ts";
import { findPlan, type Plan, type PlanInput } from "../placement/planner.ts";
import type { NodeInfo__Output } from "../protocol/proto.ts";

/** What the host knows of a member that can take a stage. */
export interface LiveMember {
    nodeId: string;
    name: string;
    address: string;
    info: Pick<NodeInfo__Output, "totalMemoryBytes" | "freeMemoryBytes" | "backend" | "inventoryJson" | "gpuTotalBytes" | "gpuFreeBytes" | "links">;
}

/** Memory bandwidths assumed for a device whose speed was not measured (GB/s): a modest machine of its kind. */
export const ASSUMED_BANDWIDTH_GBS: Readonly<Record<string, number>> = Object.freeze({ cpu: 20, cuda: 300, metal: 100, vulkan: 100 });

/**
 * A member as the planner sees it. RAM and GPU memory are what the node says its stages may
 * still use (its ledger already keeps a share for the OS and the display and honours
 * --memory-limit and --gpu-memory-limit), so the plan adds no margin of its own.
 */
export function plannerMember(member: LiveMember): Member {
    let inventory: MachineInventory | null = null;
    try {
        inventory = member.info.inventoryJson === "" ? null : JSON.parse(member.info.inventoryJson) as MachineInventory;
    } catch {
        inventory = null;
    }
    const backend = (inventory?.gpu.backend ?? member.info.backend ?? "cpu") as Member["backend"];
    const profile = inventory?.speed.status === "ready" ? inventory.speed.profile : null;
    const measured: DeviceSpeed | null = profile != null && profile.layers.length > 0 ? deviceSpeedFromProfile(profile) : null;
    const onGpu = profile?.gpu === true;
    const cpuSpeed: DeviceSpeed = measured != null && !onGpu ? measured : { kind: "bandwidth", bandwidthGBs: ASSUMED_BANDWIDTH_GBS.cpu! };
    const gpuTotal = Number(member.info.gpuTotalBytes ?? 0);
    const hasGpu = backend !== "cpu" && gpuTotal > 0;
    const gpuSpeed: DeviceSpeed | null = !hasGpu ? null : measured != null && onGpu ? measured : { kind: "bandwidth", bandwidthGBs: ASSUMED_BANDWIDTH_GBS[backend] ?? 100 };
    return {
        name: member.nodeId,
        backend,
        ram: { totalBytes: member.info.totalMemoryBytes, freeBytes: member.info.freeMemoryBytes },
        gpu: hasGpu ? { totalBytes: gpuTotal, freeBytes: Number(member.info.gpuFreeBytes ?? 0), unified: inventory?.gpu.unified ?? false } : null,
        cpuSpeed, gpuSpeed
    };
}

/**
 * The links between the members, as they measured them (each reports its links to the others in
 * NodeInfo.links): a pair measured from both ends takes the mean of the two latencies and of the
 * bandwidths known; a pair nobody measured takes DEFAULT_LINK.
 */
export function linksBetweenMembers(members: readonly LiveMember[]): Links {
    const ids = new Set(members.map((m) => m.nodeId));
    const seen = new Map<string, { between: [string, string]; latencies: number[]; bandwidths: number[] }>();
    for (const m of members) for (const l of m.info.links ?? []) {
        if (!ids.has(l.nodeId) || l.nodeId === m.nodeId || !(l.latencyMs >= 0)) continue;
        const key = linkKey(m.nodeId, l.nodeId);
        const entry = seen.get(key) ?? { between: [m.nodeId, l.nodeId] as [string, string], latencies: [], bandwidths: [] };
        entry.latencies.push(l.latencyMs);
        if (l.bandwidthMbs > 0) entry.bandwidths.push(l.bandwidthMbs);
        seen.set(key, entry);
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    return makeLinks(DEFAULT_LINK, [...seen.values()].map((e) => ({
        between: e.between, link: { latencyMs: mean(e.latencies), bandwidthMBs: e.bandwidths.length > 0 ? mean(e.bandwidths) : DEFAULT_LINK.bandwidthMBs }
    })));
}

/** The planner's input for the model over the live members: their memory and speed, and the links they measured. */
export function livePlanInput(model: ModelShape, members: readonly LiveMember[], options: LivePlanOptions): PlanInput {
    return {
        model, members: members.map(plannerMember), links: linksBetweenMembers(members),
        options: { ...options, objective: options.objective ?? "latency", marginFraction: 0, marginMinBytes: 0 }
    };
}

export interface LivePlanOptions {
    objective?: PlanObjective;
    contextSize: number;
    maxSequences: number;
    batchSize: number;
    activationBytesPerValue: number;
}

export class LivePlanError extends Error {
    constructor(message: string, readonly shortfallBytes: number) { super(message); this.name = "LivePlanError"; }
}

/** The best plan over `members` (in the planner's order), or LivePlanError saying what is missing. */
export function planOverMembers(model: ModelShape, members: readonly LiveMember[], options: LivePlanOptions): { plan: Plan; order: LiveMember[] } {
    const byId = new Map(members.map((m) => [m.nodeId, m]));
    const input = livePlanInput(model, members, options);
    const plan = findPlan(input);
    if (plan == null) {
        const report = explainNoFit(input);
        const named = report.error.replace(/\b[0-9a-f]{32}\b/g, (id) => byId.get(id)?.name ?? id);
        throw new LivePlanError(named, report.shortfallBytes);
    }
    return { plan, order: plan.stages.map((s) => byId.get(s.member)!) };
}
