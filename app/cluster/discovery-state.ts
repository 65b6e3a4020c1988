// The list of machines that LAN discovery sees, as a pure fold of its events (state first, then
// changes, through EventHub), and the pure policy that turns what the network says into those
// events: a sighting of a machine, a goodbye, silence.

/** What a machine says about itself: in its mDNS TXT record, or in answer to a probe. */
export interface DiscoveredInfo {
    nodeId: string;
    name: string;
    /** where its gRPC port can be reached, the likeliest first */
    addresses: string[];
    /** its gRPC port */
    port: number;
    /** its Hearth version */
    version: string;
    /** its wire protocol version */
    protocol: number;
    /** the cluster it is a member of, or null for none */
    clusterId: string | null;
}

/** How a machine stands to this node: same cluster id, another cluster, or in none. */
export type DiscoveryRelation = "member" | "other-cluster" | "no-cluster";

export interface DiscoveredMachine extends DiscoveredInfo {
    relation: DiscoveryRelation;
    state: "discovered" | "lost";
    /** wall-clock time (Date.now()) it was last heard from */
    lastSeenMs: number;
    /** "mdns": it announced itself; "manual": added by address (stays until removed) */
    source: "mdns" | "manual";
    /** its mDNS service instance name (a goodbye for an older instance of it is no news), "" for a manual entry */
    instanceName: string;
}

export interface DiscoveryState {
    /** this node's own cluster id, or null for none: relations are relative to it */
    clusterId: string | null;
    machines: DiscoveredMachine[];
    /** why discovery is not working right now (what the user can do), or null */
    problem: string | null;
}

export type DiscoveryEvent =
    | { type: "found"; machine: DiscoveredMachine }
    | { type: "updated"; machine: DiscoveredMachine }
    | { type: "back"; machine: DiscoveredMachine }
    | { type: "lost"; nodeId: string; reason: "silent" | "goodbye"; atMs: number }
    /** heard from again, nothing changed (only `lastSeenMs` moves) */
    | { type: "seen"; nodeId: string; atMs: number }
    /** this node's own cluster id changed; relations follow */
    | { type: "clusterChanged"; clusterId: string | null }
    /** discovery cannot use the network: what the user can do; null once it hears the LAN again */
    | { type: "problem"; message: string | null };

/** One time the network (or a probe) told us about a machine. */
export interface DiscoverySighting {
    info: DiscoveredInfo;
    atMs: number;
    source: "mdns" | "manual";
    instanceName: string;
}

export function initialDiscoveryState(clusterId: string | null): DiscoveryState {
    return { clusterId, machines: [], problem: null };
}

/** How a machine with cluster id `theirs` stands to a node with `ours` (pure). */
export function relationOf(ours: string | null, theirs: string | null): DiscoveryRelation {
    if (theirs === null) return "no-cluster";
    return theirs === ours ? "member" : "other-cluster";
}

/** The state after `event` (pure). An event about a machine already listed replaces it: never listed twice. */
export function applyDiscoveryEvent(state: DiscoveryState, event: DiscoveryEvent): DiscoveryState {
    switch (event.type) {
        case "found":
        case "updated":
        case "back": {
            const machine = { ...event.machine, relation: relationOf(state.clusterId, event.machine.clusterId) };
            const others = state.machines.filter((m) => m.nodeId !== machine.nodeId);
            return { ...state, machines: [...others, machine].sort(byName) };
        }
        case "lost":
            return mapMachine(state, event.nodeId, (m) => (m.state === "lost" ? m : { ...m, state: "lost" }));
        case "seen":
            return mapMachine(state, event.nodeId, (m) => ({ ...m, lastSeenMs: Math.max(m.lastSeenMs, event.atMs) }));
        case "clusterChanged":
            return {
                ...state,
                clusterId: event.clusterId,
                machines: state.machines.map((m) => ({ ...m, relation: relationOf(event.clusterId, m.clusterId) }))
            };
        case "problem":
            return { ...state, problem: event.message };
        default:
            return state;
    }
}

/** The event a sighting means (pure): `found` if new, `back` if it was lost, `updated` if something changed, else `seen`. */
export function eventForSighting(state: DiscoveryState, sighting: DiscoverySighting): DiscoveryEvent {
    const known = state.machines.find((m) => m.nodeId === sighting.info.nodeId);
    // A machine added by hand stays manual when it also announces itself.
    const source = known?.source === "manual" ? "manual" : sighting.source;
    const machine: DiscoveredMachine = {
        ...sighting.info,
        addresses: [...sighting.info.addresses],
        relation: relationOf(state.clusterId, sighting.info.clusterId),
        state: "discovered",
        lastSeenMs: Math.max(sighting.atMs, known?.lastSeenMs ?? 0),
        source,
        instanceName: sighting.instanceName || (known?.instanceName ?? "")
    };
    if (known === undefined) return { type: "found", machine };
    if (known.state === "lost") return { type: "back", machine };
    if (!sameInfo(known, machine) || known.instanceName !== machine.instanceName || known.source !== machine.source) return { type: "updated", machine };
    return { type: "seen", nodeId: machine.nodeId, atMs: sighting.atMs };
}

/** The event a goodbye (mDNS TTL 0) for `instanceName` means (pure): `lost`, unless the machine has moved on to a newer instance or is already lost. */
export function eventForGoodbye(state: DiscoveryState, nodeId: string, instanceName: string, atMs: number): DiscoveryEvent | null {
    const known = state.machines.find((m) => m.nodeId === nodeId);
    if (known === undefined || known.state === "lost" || known.instanceName !== instanceName) return null;
    return { type: "lost", nodeId, reason: "goodbye", atMs };
}

/**
 * The machines to mark lost at `nowMs` (pure): those not heard from for `lostAfterMs`, less one
 * sweep period, so that a sweep every `sweepMs` marks each one lost no later than `lostAfterMs`
 * after it went silent. A manual entry with nothing to probe it is never silent.
 */
export function silentNodeIds(state: DiscoveryState, nowMs: number, lostAfterMs: number, sweepMs: number, manualIsProbed: boolean): string[] {
    return state.machines
        .filter((m) => m.state === "discovered" && (m.source === "mdns" || manualIsProbed))
        .filter((m) => nowMs - m.lastSeenMs >= lostAfterMs - sweepMs)
        .map((m) => m.nodeId);
}

function sameInfo(a: DiscoveredInfo, b: DiscoveredInfo): boolean {
    return a.name === b.name && a.port === b.port && a.version === b.version && a.protocol === b.protocol && a.clusterId === b.clusterId
        && a.addresses.length === b.addresses.length && a.addresses.every((address) => b.addresses.includes(address));
}

function mapMachine(state: DiscoveryState, nodeId: string, change: (m: DiscoveredMachine) => DiscoveredMachine): DiscoveryState {
    if (!state.machines.some((m) => m.nodeId === nodeId)) return state;
    return { ...state, machines: state.machines.map((m) => (m.nodeId === nodeId ? change(m) : m)) };
}

function byName(a: DiscoveredMachine, b: DiscoveredMachine): number {
    return a.name.localeCompare(b.name) || a.nodeId.localeCompare(b.nodeId);
}
