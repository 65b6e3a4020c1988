// This node's links to the other members, measured (pure bookkeeping, no I/O): the round trips of
// small calls give the latency (one way: half the median of the latest few), and a large payload
// timed against a small one gives the bandwidth towards the member. The caller (ClusterRuntime)
// makes the calls; placement reads the figures (NodeInfo.links) to cost each hop of a plan.

export interface LinkMeterOptions {
    /** round trips kept per member for the median. Defaults to 9 */
    samples?: number;
    /** how long a bandwidth figure stands before it is measured again. Defaults to 60000 ms */
    bandwidthStaleMs?: number;
}

export interface LinkFigures {
    nodeId: string;
    /** one way: half the median round trip */
    latencyMs: number;
    /** 10^6 bytes per second towards the member; null until measured */
    bandwidthMBs: number | null;
    /** Date.now() of the latest sample */
    measuredAtMs: number;
}

/** The payload a bandwidth measurement sends (1 MiB: long enough to time, short enough for any LAN). */
export const PROBE_BYTES = 1024 * 1024;
/** The largest payload a node accepts in a Probe. */
export const MAX_PROBE_BYTES = 4 * 1024 * 1024;

/** 10^6 bytes per second from the best times of a large and a small payload, or null when they cannot tell (the large one was not slower). */
export function bandwidthFromTimes(bytes: number, largeMs: number, smallMs: number): number | null {
    const transferMs = largeMs - smallMs;
    if (!(transferMs > 0) || !(bytes > 0)) return null;
    return bytes / (transferMs * 1000);
}

function median(values: readonly number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export class LinkMeter {
    private readonly rtts = new Map<string, number[]>();
    private readonly bandwidth = new Map<string, { mbs: number; atMs: number }>();
    private readonly lastAt = new Map<string, number>();
    private readonly samples: number;
    private readonly staleMs: number;

    constructor(options: LinkMeterOptions = {}) {
        this.samples = options.samples ?? 9;
        this.staleMs = options.bandwidthStaleMs ?? 60000;
    }

    /** A small call's round trip to `nodeId`. */
    addRoundTrip(nodeId: string, rttMs: number, atMs: number): void {
        if (!(rttMs >= 0) || !Number.isFinite(rttMs)) return;
        const list = this.rtts.get(nodeId) ?? [];
        list.push(rttMs);
        if (list.length > this.samples) list.splice(0, list.length - this.samples);
        this.rtts.set(nodeId, list);
        this.lastAt.set(nodeId, atMs);
    }

    /** A bandwidth measurement towards `nodeId` (null: it could not tell; the old figure stays). */
    setBandwidth(nodeId: string, mbs: number | null, atMs: number): void {
        if (mbs != null && mbs > 0 && Number.isFinite(mbs)) this.bandwidth.set(nodeId, { mbs, atMs });
        this.lastAt.set(nodeId, atMs);
    }

    /** Whether the bandwidth towards `nodeId` should be measured (never was, or it is stale). */
    needsBandwidth(nodeId: string, nowMs: number): boolean {
        const b = this.bandwidth.get(nodeId);
        return b == null || nowMs - b.atMs >= this.staleMs;
    }

    /** The figures for one member, or null before its first round trip. */
    linkTo(nodeId: string): LinkFigures | null {
        const list = this.rtts.get(nodeId);
        if (list == null || list.length === 0) return null;
        return { nodeId, latencyMs: median(list) / 2, bandwidthMBs: this.bandwidth.get(nodeId)?.mbs ?? null, measuredAtMs: this.lastAt.get(nodeId) ?? 0 };
    }

    /** Every member's figures. */
    links(): LinkFigures[] {
        return [...this.rtts.keys()].map((id) => this.linkTo(id)).filter((l): l is LinkFigures => l != null);
    }

    /** Forgets a member (removed, or gone). */
    forget(nodeId: string): void {
        this.rtts.delete(nodeId);
        this.bandwidth.delete(nodeId);
        this.lastAt.delete(nodeId);
    }
}
