// The cluster view's types (plain JSON, no I/O, nothing from Node): what `hearth peers --json`,
// the UI contract and the renderer share. The fold that makes them is cluster-view.ts.
import type { DiscoveredMachine, DiscoveryRelation } from "./discovery-state.ts";

/** The backend llama.cpp runs on (as speed-fingerprint.ts names it). */
export type LlamaBackend = "cpu" | "metal" | "cuda" | "vulkan";

export type PeerState = "discovered" | "joining" | "member" | "lost";
export type PeerRelation = "self" | DiscoveryRelation;
/**
 * "self": this machine; "mdns": it announced itself; "manual": added by address in discovery;
 * "members": known only from the membership (the member list, or a join through this node).
 */
export type PeerSource = "self" | "mdns" | "manual" | "members";

/** One layer shape of a speed profile: milliseconds per token per layer. */
export interface PeerSpeedShape {
    name: string;
    layerBytes: number;
    decodeMsPerLayer: number;
    prefillMsPerLayer: number;
}

export interface PeerSpeed {
    status: "off" | "measuring" | "ready" | "failed";
    /** decode ms per token per layer of the largest measured shape (the headline figure); null unless ready */
    decodeMsPerLayer: number | null;
    /** the shape that figure is of */
    headlineShape: string | null;
    shapes: PeerSpeedShape[];
    /** whether the layers ran on the GPU; null unless ready */
    gpu: boolean | null;
    /** ISO time of the measurement; null unless ready */
    measuredAt: string | null;
    /** why measuring failed; null unless failed */
    error: string | null;
}

/** A compact, JSON-friendly summary of a MachineInventory. */
export interface PeerInventory {
    /** Date.now() of the memory figures */
    takenAt: number;
    /** e.g. "linux 6.1 x64", "macOS 14.5 arm64", "Windows 11 Pro x64" */
    os: string;
    /** e.g. "Debian GNU/Linux 12" */
    distro: string;
    hostname: string;
    cpu: { model: string; cores: number; threads: number };
    ramTotalBytes: number;
    ramFreeBytes: number;
    backend: LlamaBackend;
    gpus: string[];
    vramTotalBytes: number;
    vramFreeBytes: number;
    /** whether the GPU memory is the system RAM */
    unified: boolean;
    speed: PeerSpeed;
}

export interface Peer {
    nodeId: string;
    name: string;
    state: PeerState;
    relation: PeerRelation;
    /** host:port, the likeliest; null when unknown */
    address: string | null;
    /** every host:port known for it, the likeliest first */
    addresses: string[];
    version: string | null;
    protocol: number | null;
    inventory: PeerInventory | null;
    /** Date.now() it was last heard from (discovery, or a GetInfo answer); null when never */
    lastSeenMs: number | null;
    source: PeerSource;
    /** this node's latest measured link to it (the last known while it is lost); null for this machine, for machines neither members nor joining, and until measured */
    link: PeerLink | null;
}

/** This node's measured link to a member. */
export interface PeerLink {
    /** one way: half the median round trip of a small call */
    latencyMs: number;
    /** 10^6 bytes per second towards it; null until measured */
    bandwidthMBs: number | null;
    /** Date.now() of the latest measurement */
    measuredAtMs: number;
}

export type ClusterModelState = "loading" | "ready" | "replanning" | "failed";

/** One stage of a plan: a run of layers on one machine. */
export interface ClusterModelStage {
    nodeId: string;
    name: string;
    /** [start, end) */
    layers: [number, number];
    /** the stage's n_gpu_layers (0: all on the CPU; more than its layers: the output head too) */
    gpuLayers: number;
    memoryBytes: number;
    /** null when not predicted (layers given by hand) */
    predictedMsPerToken: number | null;
}

export interface ClusterModelPlan {
    stages: ClusterModelStage[];
    /** one chat; null when not predicted */
    predictedTokensPerSecond: number | null;
}

/** The model the cluster runs, where, and on which plan. */
export interface ClusterModel {
    name: string;
    modelSha256: string;
    hostNodeId: string;
    hostName: string;
    state: ClusterModelState;
    /** why it failed or what it waits for; "" when nothing */
    message: string;
    planVersion: number;
    /** the plan in force */
    plan: ClusterModelPlan;
    /** a new plan waiting for the chats in progress to end; null when none */
    proposed: (ClusterModelPlan & { reason: string }) | null;
}

/** A stage as the gRPC PlannedStage message carries it (structural: no generated code imported here). */
export interface PlannedStageWire {
    nodeId: string;
    name: string;
    layerStart: number;
    layerEnd: number;
    memoryBytes: number;
    gpuLayers: number;
    /** 0: not predicted */
    predictedMsPerToken: number;
}

/** The gRPC HostedModel message (structural: no generated code imported here). */
export interface HostedModelWire {
    name: string;
    modelSha256: string;
    hostNodeId: string;
    hostName: string;
    /** a ClusterModelState; anything else is taken as "failed" */
    state: string;
    message: string;
    planVersion: number;
    /** 0: not predicted */
    predictedTokensPerSecond: number;
    stages: PlannedStageWire[];
    proposed: { reason: string; predictedTokensPerSecond: number; stages: PlannedStageWire[] } | null;
}

export interface ClusterViewSelf {
    nodeId: string;
    name: string;
    clusterId: string | null;
    /** this node's Hearth version and wire protocol; null when not given */
    version: string | null;
    protocol: number | null;
    /** where it can be reached (host:port), shown when the member list has no address for it */
    address: string | null;
}

export type ClusterViewSelfInput = Pick<ClusterViewSelf, "nodeId" | "name" | "clusterId"> & Partial<Omit<ClusterViewSelf, "nodeId" | "name" | "clusterId">>;

/** One member of this node's cluster, from its member list. */
export interface ClusterMember { nodeId: string; name: string; address: string | null }

export interface ClusterJoining { nodeId: string; name: string; address: string | null }

export interface ClusterReachability {
    nodeId: string;
    /** whether the latest GetInfo by address answered */
    ok: boolean;
    atMs: number;
    /** when it last answered; null when never */
    lastOkMs: number | null;
    /** the address it last answered on; null when not given or never */
    address: string | null;
    /** the latest measured link to it; null when never measured */
    link: PeerLink | null;
}

/** What the peers are folded from: kept so that each event can recompute them. JSON-friendly. */
export interface ClusterViewInputs {
    discovery: DiscoveredMachine[];
    members: ClusterMember[];
    joining: ClusterJoining[];
    inventories: { nodeId: string; inventory: PeerInventory | null }[];
    reachability: ClusterReachability[];
    /** the model as the latest `model` event gave it (names as given) */
    model: ClusterModel | null;
}

export interface ClusterViewState {
    self: ClusterViewSelf;
    /** this machine first, then the member list's machines by name, then the others by name */
    peers: Peer[];
    /** why discovery is not working (from the latest discovery snapshot), or null */
    discoveryProblem: string | null;
    /** the model the cluster runs, its stage and host names those of the peers now; null when none */
    model: ClusterModel | null;
    inputs: ClusterViewInputs;
}
