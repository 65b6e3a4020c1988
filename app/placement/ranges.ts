// Splitting a model's layers into contiguous ranges, one per node (pure). The placement issue
// grows this into a planner by memory, speed and links; today: by free memory.
import type { LayerRange } from "../stage/slice.ts";

export interface MemoryShare {
    name: string;
    /** what the node may still use for a stage */
    freeBytes: number;
}

export class PlacementError extends Error {
    constructor(message: string, readonly shortfallBytes = 0) { super(message); this.name = "PlacementError"; }
}

/**
 * Layers in proportion to each node's free memory (largest remainder; every node at least one
 * layer), given the bytes each layer needs (weights and KV of that layer). Refuses a split that
 * would put more on a node than it has, naming the node and the shortfall.
 */
export function rangesByMemory(layerBytes: readonly number[], nodes: readonly MemoryShare[], splitPoints?: readonly number[]): LayerRange[] {
    const total = layerBytes.length;
    if (nodes.length === 0) throw new PlacementError("no nodes to place the model on");
    if (nodes.length > total) throw new PlacementError(`${nodes.length} nodes but only ${total} layers: use at most ${total} nodes`);
    if (splitPoints !== undefined) return snapToSplitPoints(rangesByMemory(layerBytes, nodes), layerBytes, nodes, splitPoints);
    const free = nodes.map((n) => Math.max(0, n.freeBytes));
    const sum = free.reduce((a, b) => a + b, 0);
    // Largest remainder on the proportional shares, then at least one layer each.
    const exact = free.map((f) => (sum > 0 ? (total * f) / sum : total / nodes.length));
    const counts = exact.map((x) => Math.floor(x));
    let left = total - counts.reduce((a, b) => a + b, 0);
    const order = exact.map((x, i) => ({ i, r: x - Math.floor(x) })).sort((a, b) => b.r - a.r || a.i - b.i);
    for (const { i } of order) { if (left <= 0) break; counts[i]!++; left--; }
    for (let i = 0; i < counts.length; i++) {
        while (counts[i]! < 1) {
            const donor = counts.indexOf(Math.max(...counts));
            counts[donor]!--;
            counts[i]!++;
        }
    }
    const ranges: LayerRange[] = [];
    let start = 0;
    for (const c of counts) { ranges.push({ start, end: start + c }); start += c; }
    ranges.forEach((r, i) => {
        const need = layerBytes.slice(r.start, r.end).reduce((a, b) => a + b, 0);
        if (need > free[i]!) throw new PlacementError(`node '${nodes[i]!.name}' has ${free[i]} bytes free but layers ${r.start}-${r.end} need ${need}: add a machine or choose a smaller quantization`, need - free[i]!);
    });
    return ranges;
}

/**
 * The proportional ranges moved to the model's allowed split points (each boundary to the nearest
 * allowed one that keeps the boundaries increasing), checked against each node's memory again.
 */
function snapToSplitPoints(ranges: LayerRange[], layerBytes: readonly number[], nodes: readonly MemoryShare[], splitPoints: readonly number[]): LayerRange[] {
    const points = [...new Set(splitPoints)].filter((k) => k > 0 && k < layerBytes.length).sort((a, b) => a - b);
    if (points.length < nodes.length - 1)
        throw new PlacementError(`this model can be split only at layers ${points.join(", ") || "(none)"}, so it runs on at most ${points.length + 1} nodes: use fewer nodes`);
    // Each boundary to the nearest allowed point whose range fits its node, leaving a point for each later boundary.
    const need = (a: number, b: number) => layerBytes.slice(a, b).reduce((x, y) => x + y, 0);
    const boundaries: number[] = [];
    for (let i = 0; i < ranges.length - 1; i++) {
        const want = ranges[i]!.end;
        const prev = boundaries.at(-1) ?? 0;
        const lowestIndex = boundaries.length === 0 ? 0 : points.indexOf(prev) + 1;
        const highestIndex = points.length - (ranges.length - 1 - i);
        const candidates = points.slice(lowestIndex, highestIndex + 1).sort((a, b) => Math.abs(a - want) - Math.abs(b - want) || a - b);
        boundaries.push(candidates.find((p) => need(prev, p) <= Math.max(0, nodes[i]!.freeBytes)) ?? candidates[0]!);
    }
    const snapped: LayerRange[] = [];
    let start = 0;
    for (const b of [...boundaries, layerBytes.length]) { snapped.push({ start, end: b }); start = b; }
    snapped.forEach((r, i) => {
        const free = Math.max(0, nodes[i]!.freeBytes);
        const need = layerBytes.slice(r.start, r.end).reduce((a, b) => a + b, 0);
        if (need > free) throw new PlacementError(`node '${nodes[i]!.name}' has ${free} bytes free but layers ${r.start}-${r.end} need ${need} (this model splits only at layers ${points.join(", ")}): add a machine or choose a smaller quantization`, need - free);
    });
    return snapped;
}
