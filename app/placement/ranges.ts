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
export function rangesByMemory(layerBytes: readonly number[], nodes: readonly MemoryShare[]): LayerRange[] {
    const total = layerBytes.length;
    if (nodes.length === 0) throw new PlacementError("no nodes to place the model on");
    if (nodes.length > total) throw new PlacementError(`${nodes.length} nodes but only ${total} layers: use at most ${total} nodes`);
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
