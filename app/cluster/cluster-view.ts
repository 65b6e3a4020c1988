// The cluster as one node sees it (for `hearth peers` and the desktop UI): a pure fold, no I/O, of
// what this node hears — discovery snapshots, its member list, joins through it, inventories and
// GetInfo answers of members — into one list of peers, this machine first. It is meant for an
// EventHub (state first, then changes): the state keeps its inputs, so a subscriber that applies
// the same events to its copy of the state stays in step.
//
// How each machine stands:
// - this machine: "member" (relation "self") while it is in a cluster, "discovered" while it is in none;
// - a machine in the member list: "member" while discovery hears it (state "discovered") or its
//   latest GetInfo by address answered (multicast may be blocked), "lost" otherwise. The member
//   list is the authority: such a machine has relation "member" whatever cluster id it announces.
//   There is no clock in here: the caller probes members again now and then (a `reachable` event
//   each time), and discovery marks silent ones lost;
// - a machine joining through this node: "joining" until `joined` (it is then taken to be in the
//   member list, which the next `members` event confirms or revokes) or `joinFailed`;
// - any other machine discovery knows: "discovered" or "lost", with the relation its cluster id
//   gives. One that announces this node's cluster id without being in the member list (revoked,
//   or joined through another member and not synced here yet) is "discovered" with relation
//   "member", never "joining": this node cannot tell which, and "joining" only reports joins it
//   sees. A machine that is neither listed nor discovered nor joining is not shown.
//
// Each member's (and joining machine's) latest measured link from this node comes with its
// `reachable` events and is kept while it is known (the last known while it is lost). The model
// the cluster runs, and the plan it runs on, comes with `model` events; its stage names follow the
// peers' current names.
import type { DiscoveryState } from "./discovery-state.ts";
import { relationOf } from "./discovery-state.ts";
import { formatHostPort } from "./host-port.ts";
import type { InventoryOs, MachineInventory } from "./inventory.ts";
import type {
    ClusterMember, ClusterModel, ClusterModelStage, ClusterModelPlan, ClusterModelState, ClusterReachability, ClusterViewInputs, ClusterViewSelf,
    ClusterViewSelfInput, ClusterViewState, HostedModelWire, Peer, PeerInventory, PeerLink, PeerRelation, PeerSpeed, PeerSpeedShape, PeerState, PlannedStageWire
} from "./cluster-view-types.ts";

export type * from "./cluster-view-types.ts";

export type ClusterViewEvent =
    /** a full discovery snapshot: replaces everything discovery said before */
    | { type: "discovery"; state: DiscoveryState }
    /** the member list (members of this node's cluster, removed ones left out): replaces the previous one */
    | { type: "members"; members: ClusterMember[] }
    /** a machine is in the middle of joining through this node */
    | { type: "joining"; nodeId: string; name: string; address: string | null }
    /** it has joined: it is in the member list from now on (until a `members` event leaves it out) */
    | { type: "joined"; nodeId: string }
    | { type: "joinFailed"; nodeId: string }
    /** the latest inventory fetched from a machine (this one's included); null when it could not be had */
    | { type: "inventory"; nodeId: string; inventory: MachineInventory | null }
    /**
     * a GetInfo call by address answered (ok) or failed; `address` is the host:port it was made to;
     * `link` a new measurement of the link to it (none, or null: the previous one stays; ignored when not ok)
     */
    | { type: "reachable"; nodeId: string; ok: boolean; atMs: number; address?: string | null; link?: PeerLink | null }
    /** the model the cluster runs (null: none): replaces the previous one */
    | { type: "model"; model: ClusterModel | null }
    /** this node's own facts changed (it joined or left a cluster, was renamed) */
    | { type: "self"; self: ClusterViewSelfInput };

export function initialClusterViewState(self: ClusterViewSelfInput): ClusterViewState {
    const inputs: ClusterViewInputs = { discovery: [], members: [], joining: [], inventories: [], reachability: [], model: null };
    const normalized = normalizeSelf(self);
    return { self: normalized, peers: computePeers(normalized, inputs), discoveryProblem: null, model: null, inputs };
}

/** The state after `event` (pure). */
export function applyClusterViewEvent(state: ClusterViewState, event: ClusterViewEvent): ClusterViewState {
    const inputs = state.inputs;
    switch (event.type) {
        case "discovery": {
            const discovery = event.state.machines.map((m) => ({ ...m, addresses: [...m.addresses] }));
            return rebuild({ ...state, discoveryProblem: event.state.problem }, prune(state.self, { ...inputs, discovery }));
        }
        case "members": {
            const byId = new Map<string, ClusterMember>();
            for (const m of event.members) byId.set(m.nodeId, { nodeId: m.nodeId, name: m.name, address: m.address ?? null });
            return rebuild(state, prune(state.self, { ...inputs, members: [...byId.values()] }));
        }
        case "joining": {
            const joining = { nodeId: event.nodeId, name: event.name, address: event.address ?? null };
            return rebuild(state, { ...inputs, joining: [...inputs.joining.filter((j) => j.nodeId !== event.nodeId), joining] });
        }
        case "joined": {
            const joining = inputs.joining.find((j) => j.nodeId === event.nodeId);
            const members = joining === undefined || inputs.members.some((m) => m.nodeId === event.nodeId)
                ? inputs.members
                : [...inputs.members, { nodeId: joining.nodeId, name: joining.name, address: joining.address }];
            return rebuild(state, { ...inputs, members, joining: inputs.joining.filter((j) => j.nodeId !== event.nodeId) });
        }
        case "joinFailed":
            if (!inputs.joining.some((j) => j.nodeId === event.nodeId)) return state;
            return rebuild(state, prune(state.self, { ...inputs, joining: inputs.joining.filter((j) => j.nodeId !== event.nodeId) }));
        case "inventory": {
            const inventory = event.inventory === null ? null : summarizeInventory(event.inventory);
            return rebuild(state, { ...inputs, inventories: [...inputs.inventories.filter((i) => i.nodeId !== event.nodeId), { nodeId: event.nodeId, inventory }] });
        }
        case "reachable": {
            const previous = inputs.reachability.find((r) => r.nodeId === event.nodeId);
            if (previous !== undefined && event.atMs < previous.atMs) return state; // an older answer than the one we have
            const address = event.ok ? (event.address ?? previous?.address ?? null) : (previous?.address ?? null);
            const lastOkMs = event.ok ? event.atMs : (previous?.lastOkMs ?? null);
            const link = event.ok && event.link != null ? { ...event.link } : (previous?.link ?? null);
            const reach: ClusterReachability = { nodeId: event.nodeId, ok: event.ok, atMs: event.atMs, lastOkMs, address, link };
            return rebuild(state, { ...inputs, reachability: [...inputs.reachability.filter((r) => r.nodeId !== event.nodeId), reach] });
        }
        case "self": {
            const self = normalizeSelf(event.self);
            return rebuild({ ...state, self }, prune(self, inputs));
        }
        case "model":
            return rebuild(state, { ...inputs, model: event.model === null ? null : copyModel(event.model) });
        default:
            return state;
    }
}

/** A compact, JSON-friendly summary of an inventory (pure). */
export function summarizeInventory(inv: MachineInventory): PeerInventory {
    return {
        takenAt: inv.takenAt,
        os: osText(inv.os),
        distro: [inv.os.distro, inv.os.release].filter((s) => s !== "").join(" "),
        hostname: inv.os.hostname,
        cpu: { model: cpuModel(inv.cpu.manufacturer, inv.cpu.brand), cores: inv.cpu.physicalCores, threads: inv.cpu.logicalCores },
        ramTotalBytes: inv.memory.totalBytes,
        ramFreeBytes: inv.memory.freeBytes,
        backend: inv.gpu.backend,
        gpus: [...inv.gpu.deviceNames],
        vramTotalBytes: inv.gpu.totalBytes,
        vramFreeBytes: inv.gpu.freeBytes,
        unified: inv.gpu.unified,
        speed: speedOf(inv)
    };
}

/** The model as the gRPC HostedModel message gives it (pure): 0 predictions are null, an unknown state is "failed". */
export function clusterModelFromWire(hosted: HostedModelWire | null): ClusterModel | null {
    if (hosted === null) return null;
    return {
        name: hosted.name,
        modelSha256: hosted.modelSha256,
        hostNodeId: hosted.hostNodeId,
        hostName: hosted.hostName,
        state: MODEL_STATES.includes(hosted.state as ClusterModelState) ? hosted.state as ClusterModelState : "failed",
        message: hosted.message,
        planVersion: hosted.planVersion,
        plan: planFromWire(hosted.stages, hosted.predictedTokensPerSecond),
        proposed: hosted.proposed === null || hosted.proposed === undefined ? null
            : { ...planFromWire(hosted.proposed.stages, hosted.proposed.predictedTokensPerSecond), reason: hosted.proposed.reason }
    };
}

/**
 * The view as plain text for the CLI (pure): a table of NAME, STATE, ADDRESS, OS, BACKEND, MEMORY,
 * SPEED, LINK; then the model and its plan (and a proposed one), when the cluster runs one; then
 * why discovery is not working, when it is not.
 */
export function formatPeersTable(state: ClusterViewState): string {
    const header = ["NAME", "STATE", "ADDRESS", "OS", "BACKEND", "MEMORY", "SPEED", "LINK"];
    const rows = state.peers.map((p) => [
        p.relation === "self" ? `${p.name} (this machine)` : p.name,
        stateText(p),
        p.address ?? "—",
        p.inventory?.os ?? "—",
        p.inventory === null ? "—" : p.inventory.backend + (p.inventory.unified ? " (unified)" : ""),
        p.inventory === null ? "—" : memoryText(p.inventory),
        p.inventory === null ? "—" : speedText(p.inventory.speed),
        linkText(p.link ?? null)
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd();
    const lines = [line(header), ...rows.map(line)];
    // A view from an older node has no model field: none.
    if (state.model != null) lines.push("", ...modelLines(state.model));
    if (state.discoveryProblem !== null) lines.push("", `discovery: ${state.discoveryProblem}`);
    return lines.join("\n");
}

// ---- folding -------------------------------------------------------------------------------

function normalizeSelf(self: ClusterViewSelfInput): ClusterViewSelf {
    return {
        nodeId: self.nodeId, name: self.name, clusterId: self.clusterId ?? null,
        version: self.version ?? null, protocol: self.protocol ?? null, address: self.address ?? null
    };
}

function rebuild(state: ClusterViewState, inputs: ClusterViewInputs): ClusterViewState {
    const peers = computePeers(state.self, inputs);
    return { ...state, inputs, peers, model: namedModel(inputs.model, peers) };
}

/** Drops inventories and reachability of machines the view no longer knows at all (bounded state). */
function prune(self: ClusterViewSelf, inputs: ClusterViewInputs): ClusterViewInputs {
    const known = new Set<string>([self.nodeId, ...inputs.members.map((m) => m.nodeId), ...inputs.joining.map((j) => j.nodeId), ...inputs.discovery.map((m) => m.nodeId)]);
    return {
        ...inputs,
        inventories: inputs.inventories.filter((i) => known.has(i.nodeId)),
        reachability: inputs.reachability.filter((r) => known.has(r.nodeId))
    };
}

function computePeers(self: ClusterViewSelf, inputs: ClusterViewInputs): Peer[] {
    const discovered = new Map(inputs.discovery.map((m) => [m.nodeId, m]));
    const members = new Map(inputs.members.map((m) => [m.nodeId, m]));
    const joining = new Map(inputs.joining.map((j) => [j.nodeId, j]));
    const inventories = new Map(inputs.inventories.map((i) => [i.nodeId, i.inventory]));
    const reach = new Map(inputs.reachability.map((r) => [r.nodeId, r]));

    const selfPeer: Peer = {
        nodeId: self.nodeId,
        name: self.name,
        state: self.clusterId !== null ? "member" : "discovered",
        relation: "self",
        ...addressesOf([members.get(self.nodeId)?.address ?? null, self.address]),
        version: self.version,
        protocol: self.protocol,
        inventory: inventories.get(self.nodeId) ?? null,
        lastSeenMs: null,
        source: "self",
        link: null
    };

    const listed: Peer[] = [];
    const others: Peer[] = [];
    const ids = new Set<string>([...members.keys(), ...joining.keys(), ...discovered.keys()]);
    ids.delete(self.nodeId);
    for (const nodeId of ids) {
        const machine = discovered.get(nodeId);
        const member = members.get(nodeId);
        const join = joining.get(nodeId);
        const r = member !== undefined || join !== undefined ? reach.get(nodeId) : undefined;
        const heard = machine?.state === "discovered";
        const answered = r?.ok === true;
        const state: PeerState = join !== undefined ? "joining"
            : member !== undefined ? (heard || answered ? "member" : "lost")
            : heard ? "discovered" : "lost";
        const relation: PeerRelation = member !== undefined ? "member"
            : machine !== undefined ? relationOf(self.clusterId, machine.clusterId)
            : "no-cluster";
        const discoveredAddresses = machine === undefined ? [] : machine.addresses.map((host) => hostPort(host, machine.port));
        const candidates = [
            answered ? r.address : null,
            join?.address ?? null,
            ...(heard ? discoveredAddresses : []),
            member?.address ?? null,
            r?.address ?? null,
            ...(heard ? [] : discoveredAddresses)
        ];
        const seen = [machine?.lastSeenMs ?? null, r?.lastOkMs ?? null].filter((t): t is number => t !== null);
        const peer: Peer = {
            nodeId,
            name: (heard ? machine.name : null) || member?.name || join?.name || machine?.name || nodeId,
            state,
            relation,
            ...addressesOf(candidates),
            version: machine?.version || null,
            protocol: machine !== undefined && machine.protocol > 0 ? machine.protocol : null,
            inventory: inventories.get(nodeId) ?? null,
            lastSeenMs: seen.length > 0 ? Math.max(...seen) : null,
            source: machine?.source ?? "members",
            link: r?.link ?? null
        };
        (member !== undefined ? listed : others).push(peer);
    }
    return [selfPeer, ...listed.sort(byName), ...others.sort(byName)];
}

function hostPort(host: string, port: number): string {
    return formatHostPort({ host, port });
}

function addressesOf(candidates: (string | null | undefined)[]): { address: string | null; addresses: string[] } {
    const addresses = [...new Set(candidates.filter((a): a is string => typeof a === "string" && a !== ""))];
    return { address: addresses[0] ?? null, addresses };
}

function byName(a: Peer, b: Peer): number {
    return a.name.localeCompare(b.name) || a.nodeId.localeCompare(b.nodeId);
}

// ---- model ---------------------------------------------------------------------------------

const MODEL_STATES: readonly ClusterModelState[] = ["loading", "ready", "replanning", "failed"];

function copyStage(stage: ClusterModelStage): ClusterModelStage {
    return { ...stage, layers: [stage.layers[0], stage.layers[1]] };
}

function copyModel(model: ClusterModel): ClusterModel {
    return {
        ...model,
        plan: { ...model.plan, stages: model.plan.stages.map(copyStage) },
        proposed: model.proposed === null ? null : { ...model.proposed, stages: model.proposed.stages.map(copyStage) }
    };
}

/** The model with the host's and the stages' names those the peers have now (a renamed machine shows its new name). */
function namedModel(model: ClusterModel | null, peers: Peer[]): ClusterModel | null {
    if (model === null) return null;
    const names = new Map(peers.map((p) => [p.nodeId, p.name]));
    const named = copyModel(model);
    for (const stage of [...named.plan.stages, ...(named.proposed?.stages ?? [])]) stage.name = names.get(stage.nodeId) ?? stage.name;
    named.hostName = names.get(named.hostNodeId) ?? named.hostName;
    return named;
}

const predicted = (n: number): number | null => (n > 0 ? n : null);

function planFromWire(stages: PlannedStageWire[], predictedTokensPerSecond: number): ClusterModelPlan {
    return {
        stages: stages.map((s) => ({
            nodeId: s.nodeId, name: s.name, layers: [s.layerStart, s.layerEnd], gpuLayers: s.gpuLayers,
            memoryBytes: s.memoryBytes, predictedMsPerToken: predicted(s.predictedMsPerToken)
        })),
        predictedTokensPerSecond: predicted(predictedTokensPerSecond)
    };
}

// ---- inventory summary ---------------------------------------------------------------------

function majorMinor(version: string): string {
    return /^(\d+)\.(\d+)/.exec(version)?.slice(1, 3).join(".") ?? version;
}

function osText(os: InventoryOs): string {
    let parts: string[];
    if (os.platform === "darwin") parts = ["macOS", os.release];
    else if (os.platform === "win32") parts = [os.distro.replace(/^Microsoft\s+/i, "") || "Windows", /windows/i.test(os.distro) ? "" : os.release];
    else parts = [os.platform, majorMinor(os.kernel || os.release)];
    return [...parts, os.arch].filter((s) => s !== "").join(" ");
}

function cpuModel(manufacturer: string, brand: string): string {
    if (manufacturer === "" || brand.toLowerCase().startsWith(manufacturer.toLowerCase())) return brand.trim();
    return `${manufacturer} ${brand}`.trim();
}

function speedOf(inv: MachineInventory): PeerSpeed {
    const none = { decodeMsPerLayer: null, headlineShape: null, shapes: [], gpu: null, measuredAt: null, error: null };
    const speed = inv.speed;
    if (speed.status === "off" || speed.status === "measuring") return { ...none, status: speed.status };
    if (speed.status === "failed") return { ...none, status: "failed", error: speed.error };
    const shapes = speed.profile.layers.map((l) => ({
        name: l.shape.name, layerBytes: l.layerBytes, decodeMsPerLayer: l.decodeMsPerToken, prefillMsPerLayer: l.prefillMsPerToken
    }));
    // The largest layer is the most like the models the cluster runs (memory-bound, out of cache).
    const headline = shapes.reduce<PeerSpeedShape | null>((best, s) => (best === null || s.layerBytes > best.layerBytes ? s : best), null);
    return {
        status: "ready", decodeMsPerLayer: headline?.decodeMsPerLayer ?? null, headlineShape: headline?.name ?? null,
        shapes, gpu: speed.profile.gpu, measuredAt: speed.profile.measuredAt, error: null
    };
}

// ---- table ---------------------------------------------------------------------------------

function stateText(p: Peer): string {
    if (p.relation === "self" || p.state === "joining" || (p.relation === "member" && p.state !== "discovered")) return p.state;
    const why = p.relation === "member" ? "not in member list" : p.relation === "other-cluster" ? "other cluster" : "no cluster";
    return `${p.state}, ${why}`;
}

const UNITS = ["B", "KB", "MB", "GB", "TB"];

/** The binary unit `bytes` is best shown in: its index in UNITS, its size, and the digits to show. */
function unitOf(bytes: number): { unit: string; scale: number; digits: number } {
    let u = 0;
    let scale = 1;
    while (bytes / scale >= 1024 && u < UNITS.length - 1) { scale *= 1024; u++; }
    return { unit: UNITS[u]!, scale, digits: u === 0 ? 0 : 1 };
}

/** "12.1/32.0 GB": both in the unit of the total (binary units, as formatBytes). */
function freeOfTotal(free: number, total: number): string {
    const { unit, scale, digits } = unitOf(total);
    return `${(free / scale).toFixed(digits)}/${(total / scale).toFixed(digits)} ${unit}`;
}

/** "120.0 MB" (binary units, as freeOfTotal). */
function bytesText(bytes: number): string {
    const { unit, scale, digits } = unitOf(bytes);
    return `${(bytes / scale).toFixed(digits)} ${unit}`;
}

function memoryText(inv: PeerInventory): string {
    const ram = `${freeOfTotal(inv.ramFreeBytes, inv.ramTotalBytes)} free`;
    return !inv.unified && inv.vramTotalBytes > 0 ? `${ram}, VRAM ${freeOfTotal(inv.vramFreeBytes, inv.vramTotalBytes)}` : ram;
}

/** A figure with about two significant digits, more when large: "12", "1.2", "0.12". */
function figureText(n: number): string {
    return n >= 10 ? n.toFixed(0) : n >= 1 ? n.toFixed(1) : n.toFixed(2);
}

function speedText(speed: PeerSpeed): string {
    if (speed.status === "measuring") return "measuring";
    if (speed.status === "failed") return "failed";
    if (speed.decodeMsPerLayer === null) return "—";
    return `${figureText(speed.decodeMsPerLayer)} ms/layer`;
}

/** "0.21 ms, 850 MB/s"; "0.21 ms" until the bandwidth is measured; "—" when never measured. */
function linkText(link: PeerLink | null): string {
    if (link === null) return "—";
    const latency = `${figureText(link.latencyMs)} ms`;
    return link.bandwidthMBs === null ? latency : `${latency}, ${figureText(link.bandwidthMBs)} MB/s`;
}

/** "CPU", "2 of 3 on GPU", "all on GPU", "all on GPU + head". */
function gpuText(stage: ClusterModelStage): string {
    const layers = stage.layers[1] - stage.layers[0];
    if (stage.gpuLayers <= 0) return "CPU";
    if (stage.gpuLayers < layers) return `${stage.gpuLayers} of ${layers} on GPU`;
    return stage.gpuLayers > layers ? "all on GPU + head" : "all on GPU";
}

const tokensPerSecondText = (plan: ClusterModelPlan): string =>
    plan.predictedTokensPerSecond === null ? "" : `, predicted ${plan.predictedTokensPerSecond.toFixed(1)} tokens/s`;

/** The model's section under the table: a headline and its stages, then the proposed plan's, columns lined up across both. */
function modelLines(model: ClusterModel): string[] {
    const cells = (stage: ClusterModelStage) => [
        stage.name,
        `layers ${stage.layers[0]}-${stage.layers[1]}`,
        gpuText(stage),
        bytesText(stage.memoryBytes),
        stage.predictedMsPerToken === null ? "" : `${figureText(stage.predictedMsPerToken)} ms/token`
    ];
    const rows = [...model.plan.stages, ...(model.proposed?.stages ?? [])].map(cells);
    const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    const stageLine = (stage: ClusterModelStage) =>
        ("  " + cells(stage).map((c, i) => (i === widths.length - 1 ? c : c.padEnd(widths[i]!))).join("   ")).trimEnd();
    const why = model.message === "" ? "" : ` (${model.message})`;
    const lines = [`model: ${model.name} on ${model.hostName} — ${model.state}${why}, plan ${model.planVersion}${tokensPerSecondText(model.plan)}`, ...model.plan.stages.map(stageLine)];
    if (model.proposed !== null) {
        const reason = model.proposed.reason === "" ? "" : ` (${model.proposed.reason})`;
        lines.push(`proposed${reason}${tokensPerSecondText(model.proposed)}`, ...model.proposed.stages.map(stageLine));
    }
    return lines;
}
