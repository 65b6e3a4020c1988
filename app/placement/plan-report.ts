// A plan as text for `hearth plan` (pure): one row per stage, then the one-line summary.
import type { Plan } from "./planner.ts";
import type { NoFitReport } from "./no-fit.ts";
import { formatBytes } from "../util/format.ts";

function ms(n: number): string {
    return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

/** The stages as a table: member, layers, GPU/CPU layers, memory used and left, ms per token, hop. */
export function formatPlanTable(plan: Plan): string {
    const header = ["#", "MEMBER", "BACKEND", "LAYERS", "GPU", "CPU", "RAM USED", "RAM LEFT", "VRAM USED", "VRAM LEFT", "MS/TOKEN", "HOP MS"];
    const rows = plan.stages.map((s, i) => {
        const m = s.memory;
        const hasGpu = m.vramUsableBytes > 0 || m.vramUsedBytes > 0;
        const roles = [s.inputEmbedding ? "in" : "", s.outputHead ? (s.outputOnGpu ? "head on GPU" : "head") : ""].filter((r) => r !== "").join(", ");
        return [
            String(i + 1),
            s.member,
            s.backend + (m.unified ? " (unified)" : ""),
            `${s.layers[0]}-${s.layers[1]}` + (roles === "" ? "" : ` (${roles})`),
            String(s.gpuLayers),
            String(s.cpuLayers),
            formatBytes(m.ramUsedBytes),
            formatBytes(m.ramLeftBytes),
            hasGpu ? formatBytes(m.vramUsedBytes) : "—",
            hasGpu ? formatBytes(m.vramLeftBytes) : "—",
            ms(s.predictedMsPerToken),
            s.hopTo === null ? "—" : `${ms(s.hopMsPerToken)} → ${s.hopTo}`
        ];
    });
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd();
    const lines = [line(header), ...rows.map(line), "", plan.summary];
    if (plan.idleMembers.length > 0) lines.push(`not used: ${plan.idleMembers.join(", ")} (the plan is as fast or faster without them, or they have no room for a stage)`);
    lines.push(`layers for 'hearth generate --layers': ${plan.layers}`);
    if (plan.stages.some((s) => s.memory.unified)) lines.push("unified members: RAM is the shared pool (GPU part included); VRAM is the GPU's part against its working-set limit");
    return lines.join("\n");
}

/** The report of a model that does not fit, as lines for a terminal. */
export function formatNoFit(report: NoFitReport): string {
    return [report.error, "", ...report.suggestions.map((s) => `- ${s.text}`)].join("\n");
}
