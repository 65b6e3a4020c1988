// A plan over the members that answer now: each one's memory and speed as its node reports them
// (GetInfo: what its stages may still use, within its --memory-limit; its inventory: GPU memory
// and the measured speed profile), fed to the planner (placement/planner.ts).
import type { MachineInventory } from "../cluster/inventory.ts";
import { deviceSpeedFromProfile, type DeviceSpeed, type Member, type PlanObjective } from "../placement/cost-model.ts";
import type { ModelShape } from "../placement/model-shape.ts";
import { explainNoFit } from "../placement/no-fit.ts";
import { findPlan, type Plan } from "../placement/planner.ts";
import type { NodeInfo__Output } from "../protocol/proto.ts";

/** What the host knows of a member that can take a stage. */
export interface LiveMember {
    nodeId: string;
    name: string;
    address: string;
    info: Pick<NodeInfo__Output, "totalMemoryBytes" | "freeMemoryBytes" | "backend" | "inventoryJson">;
}

/** Memory bandwidths assumed for a device whose speed was not measured (GB/s): a modest machine of its kind. */
export const ASSUMED_BANDWIDTH_GBS: Readonly<Record<string, number>> = Object.freeze({ cpu: 20, cuda: 300, metal: 100, vulkan: 100 });

/** The GPU memory a plan leaves free on a member (what the OS, the display and the app need): max(10 %, 512 MiB). */
export function gpuReserveBytes(totalBytes: number): number {
    return Math.max(0.1 * totalBytes, 512 * 1024 * 1024);
}

/**
 * A member as the planner sees it. RAM is what the node says its stages may still use (its
 * ledger already keeps a share for the OS and honours --memory-limit), so the plan adds no margin
 * of its own there; GPU memory comes from llama.cpp less gpuReserveBytes.
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
    const gpuTotal = inventory?.gpu.totalBytes ?? 0;
    const hasGpu = backend !== "cpu" && gpuTotal > 0;
    const gpuSpeed: DeviceSpeed | null = !hasGpu ? null : measured != null && onGpu ? measured : { kind: "bandwidth", bandwidthGBs: ASSUMED_BANDWIDTH_GBS[backend] ?? 100 };
    return {
        name: member.nodeId,
        backend,
        ram: { totalBytes: member.info.totalMemoryBytes, freeBytes: member.info.freeMemoryBytes },
        gpu: hasGpu ? {
            totalBytes: gpuTotal, freeBytes: Math.max(0, (inventory!.gpu.freeBytes) - gpuReserveBytes(gpuTotal)),
            unified: inventory!.gpu.unified
        } as Member["gpu"] : null,
        cpuSpeed, gpuSpeed
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
    const input = {
        model, members: members.map(plannerMember),
        options: { ...options, objective: options.objective ?? "latency", marginFraction: 0, marginMinBytes: 0 }
    };
    const plan = findPlan(input);
    if (plan == null) {
        const report = explainNoFit(input);
        const named = report.error.replace(/\b[0-9a-f]{32}\b/g, (id) => byId.get(id)?.name ?? id);
        throw new LivePlanError(named, report.shortfallBytes);
    }
    return { plan, order: plan.stages.map((s) => byId.get(s.member)!) };
}
