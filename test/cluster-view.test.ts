// The cluster view: a pure fold of discovery snapshots, the member list, joins, inventories and
// GetInfo answers into one list of peers (this machine first), with the measured links to them
// and the model the cluster runs, and its table for `hearth peers`.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
    applyClusterViewEvent, clusterModelFromWire, formatPeersTable, initialClusterViewState, summarizeInventory,
    type ClusterModel, type ClusterModelStage, type ClusterViewEvent, type ClusterViewState, type HostedModelWire, type Peer, type PeerLink
} from "../app/cluster/cluster-view.ts";
import type { DiscoveredMachine, DiscoveryState } from "../app/cluster/discovery-state.ts";
import type { MachineInventory } from "../app/cluster/inventory.ts";
import type { SpeedProfile } from "../app/cluster/speed-profile.ts";
import { EventHub, type StateMessage } from "../app/util/event-hub.ts";

const GB = 1024 ** 3;
const CLUSTER = "c1";
const SELF = { nodeId: "self", name: "studio", clusterId: CLUSTER, version: "0.1.0", protocol: 2 };

function machine(nodeId: string, clusterId: string | null, extra: Partial<DiscoveredMachine> = {}): DiscoveredMachine {
    return {
        nodeId, name: nodeId, addresses: [`10.0.0.${nodeId.length}`], port: 7420, version: "0.1.0", protocol: 2, clusterId,
        relation: clusterId === CLUSTER ? "member" : clusterId === null ? "no-cluster" : "other-cluster",
        state: "discovered", lastSeenMs: 1000, source: "mdns", instanceName: `hearth-${nodeId}`, ...extra
    };
}

const discovery = (...machines: DiscoveredMachine[]): ClusterViewEvent =>
    ({ type: "discovery", state: { clusterId: CLUSTER, machines, problem: null } satisfies DiscoveryState });

function fold(events: ClusterViewEvent[], state: ClusterViewState = initialClusterViewState(SELF)): ClusterViewState {
    return events.reduce(applyClusterViewEvent, state);
}

const peer = (state: ClusterViewState, nodeId: string): Peer | undefined => state.peers.find((p) => p.nodeId === nodeId);
const summary = (state: ClusterViewState) => state.peers.map((p) => [p.name, p.state, p.relation]);

function profile(decode1b: number, decode8b: number): SpeedProfile {
    const shape = (name: string, embd: number) => ({ name, embd, ff: embd * 4, heads: 32, kvHeads: 8, type: "q4_0" as const });
    const layer = (name: string, embd: number, layerBytes: number, decode: number) => ({
        shape: shape(name, embd), layerBytes, stageLayers: 8, decodeMsPerToken: decode, prefillMsPerToken: decode / 10,
        prefillTokens: 64, decodeSteps: 8, prefillRuns: 2
    });
    return {
        format: 1, fingerprint: "f".repeat(32), measuredAt: "2025-01-01T00:00:00.000Z", backend: "cuda", threads: 8, gpu: true,
        layers: [layer("1b", 2048, 34_000_000, decode1b), layer("8b", 4096, 120_000_000, decode8b)], measureMs: 5000
    };
}

function inventory(kind: "linux-cuda" | "mac" | "windows", speed: MachineInventory["speed"]): MachineInventory {
    if (kind === "mac") {
        return {
            takenAt: 5,
            os: { platform: "darwin", distro: "macOS", release: "14.5", kernel: "23.5.0", arch: "arm64", hostname: "mini" },
            cpu: { manufacturer: "Apple", brand: "M2 Pro", physicalCores: 10, logicalCores: 10 },
            memory: { totalBytes: 32 * GB, freeBytes: 12.1 * GB },
            gpu: { backend: "metal", deviceNames: ["Apple M2 Pro"], totalBytes: 24 * GB, freeBytes: 20 * GB, unified: true, unifiedBytes: 24 * GB },
            speed
        };
    }
    if (kind === "windows") {
        return {
            takenAt: 5,
            os: { platform: "win32", distro: "Microsoft Windows 11 Pro", release: "10.0.22631", kernel: "10.0.22631", arch: "x64", hostname: "gamer" },
            cpu: { manufacturer: "AMD", brand: "Ryzen 7 7700X", physicalCores: 8, logicalCores: 16 },
            memory: { totalBytes: 64 * GB, freeBytes: 40 * GB },
            gpu: { backend: "vulkan", deviceNames: ["AMD Radeon RX 7900"], totalBytes: 20 * GB, freeBytes: 18 * GB, unified: false, unifiedBytes: 0 },
            speed
        };
    }
    return {
        takenAt: 5,
        os: { platform: "linux", distro: "Debian GNU/Linux", release: "12", kernel: "6.1.0-18-amd64", arch: "x64", hostname: "box" },
        cpu: { manufacturer: "Intel", brand: "Core i7-12700", physicalCores: 12, logicalCores: 20 },
        memory: { totalBytes: 32 * GB, freeBytes: 12.1 * GB },
        gpu: { backend: "cuda", deviceNames: ["NVIDIA GeForce RTX 4090"], totalBytes: 24 * GB, freeBytes: 20 * GB, unified: false, unifiedBytes: 0 },
        speed
    };
}

test("this machine is first and a member (relation self) while in a cluster; discovered while in none", () => {
    let state = initialClusterViewState(SELF);
    assert.deepEqual(summary(state), [["studio", "member", "self"]]);
    assert.equal(state.peers[0]?.source, "self");
    assert.equal(state.peers[0]?.version, "0.1.0");
    state = fold([discovery(machine("aaa", CLUSTER), machine("zzz", null)), { type: "members", members: [{ nodeId: "self", name: "studio", address: "10.0.0.9:7420" }, { nodeId: "zzz-member", name: "b-member", address: null }] }], state);
    assert.equal(state.peers[0]?.nodeId, "self");
    assert.equal(state.peers[0]?.address, "10.0.0.9:7420");
    const alone = initialClusterViewState({ nodeId: "self", name: "studio", clusterId: null });
    assert.deepEqual(summary(alone), [["studio", "discovered", "self"]]);
    // Even if discovery lists this machine, it is shown once, as itself.
    const echoed = fold([discovery(machine("self", CLUSTER))]);
    assert.deepEqual(summary(echoed), [["studio", "member", "self"]]);
});

test("members: heard by mDNS, reachable by address only, and silent", () => {
    const members = [
        { nodeId: "m-heard", name: "heard", address: "10.0.1.1:7420" },
        { nodeId: "m-reach", name: "reach", address: "10.0.1.2:7420" },
        { nodeId: "m-silent", name: "silent", address: "10.0.1.3:7420" },
        { nodeId: "m-lost", name: "lost-one", address: null }
    ];
    const state = fold([
        { type: "members", members },
        discovery(machine("m-heard", CLUSTER, { name: "heard", addresses: ["192.168.1.5", "fe80::1"], lastSeenMs: 900 }), machine("m-lost", CLUSTER, { name: "lost-one", state: "lost", lastSeenMs: 500 })),
        { type: "reachable", nodeId: "m-reach", ok: true, atMs: 1200, address: "10.0.1.2:7420" },
        { type: "reachable", nodeId: "m-silent", ok: false, atMs: 1200 }
    ]);
    assert.deepEqual(summary(state), [
        ["studio", "member", "self"],
        ["heard", "member", "member"],
        ["lost-one", "lost", "member"],
        ["reach", "member", "member"],
        ["silent", "lost", "member"]
    ]);
    const heard = peer(state, "m-heard")!;
    assert.equal(heard.source, "mdns");
    assert.equal(heard.address, "192.168.1.5:7420");
    assert.deepEqual(heard.addresses, ["192.168.1.5:7420", "[fe80::1]:7420", "10.0.1.1:7420"]);
    assert.equal(heard.lastSeenMs, 900);
    assert.equal(heard.version, "0.1.0");
    assert.equal(heard.protocol, 2);
    const reach = peer(state, "m-reach")!;
    assert.equal(reach.source, "members");
    assert.equal(reach.address, "10.0.1.2:7420");
    assert.equal(reach.lastSeenMs, 1200);
    assert.equal(reach.version, null);
    const silent = peer(state, "m-silent")!;
    assert.equal(silent.source, "members");
    assert.equal(silent.lastSeenMs, null);
    assert.equal(silent.address, "10.0.1.3:7420");
    const lost = peer(state, "m-lost")!;
    assert.equal(lost.source, "mdns");
    assert.equal(lost.lastSeenMs, 500);
    assert.equal(lost.address, "10.0.0.6:7420");

    // A member that answered then fails, and is not heard by mDNS, is lost; its last answer time stays.
    const failed = fold([{ type: "reachable", nodeId: "m-reach", ok: false, atMs: 2000 }], state);
    assert.equal(peer(failed, "m-reach")?.state, "lost");
    assert.equal(peer(failed, "m-reach")?.lastSeenMs, 1200);
    // An older answer arriving late changes nothing.
    assert.equal(applyClusterViewEvent(failed, { type: "reachable", nodeId: "m-reach", ok: true, atMs: 1500 }), failed);
    // A failed GetInfo does not override mDNS: a member heard by discovery stays a member.
    const stillHeard = fold([{ type: "reachable", nodeId: "m-heard", ok: false, atMs: 2000 }], state);
    assert.equal(peer(stillHeard, "m-heard")?.state, "member");
    // Discovery losing it (with no GetInfo answer) makes it lost.
    const gone = fold([discovery(machine("m-heard", CLUSTER, { name: "heard", state: "lost" }))], stillHeard);
    assert.equal(peer(gone, "m-heard")?.state, "lost");
    // The name a member announces now wins over the member list's (it was renamed); the list's while it is lost.
    const renamed = fold([discovery(machine("m-heard", CLUSTER, { name: "den" }))], state);
    assert.equal(peer(renamed, "m-heard")?.name, "den");
    assert.equal(peer(fold([discovery(machine("m-heard", CLUSTER, { name: "den", state: "lost" }))], state), "m-heard")?.name, "heard");
});

test("machines of another cluster and of none are discovered (or lost), after the members, by name", () => {
    const state = fold([
        { type: "members", members: [{ nodeId: "m1", name: "zeta", address: null }] },
        discovery(
            machine("m1", CLUSTER, { name: "zeta" }),
            machine("o1", "c2", { name: "neighbour" }),
            machine("n1", null, { name: "fresh" }),
            machine("n2", null, { name: "alpha", state: "lost", source: "manual" })
        )
    ]);
    assert.deepEqual(summary(state), [
        ["studio", "member", "self"],
        ["zeta", "member", "member"],
        ["alpha", "lost", "no-cluster"],
        ["fresh", "discovered", "no-cluster"],
        ["neighbour", "discovered", "other-cluster"]
    ]);
    assert.equal(peer(state, "n2")?.source, "manual");
    // Relations are relative to this node's cluster id: it joins c2, and the neighbour is of its cluster id.
    const moved = fold([{ type: "self", self: { ...SELF, clusterId: "c2" } }], state);
    assert.equal(peer(moved, "o1")?.relation, "member");
    assert.equal(peer(moved, "o1")?.state, "discovered");
});

test("a machine announcing this cluster's id but not in the member list is discovered, not a member", () => {
    const state = fold([discovery(machine("x", CLUSTER, { name: "stranger" }))]);
    assert.deepEqual(peer(state, "x") && [peer(state, "x")!.state, peer(state, "x")!.relation], ["discovered", "member"]);
    assert.match(formatPeersTable(state), /stranger\s+discovered, not in member list/);
});

test("joining → member: joining until joined, then a member; a failed join falls back to what discovery says", () => {
    let state = fold([discovery(machine("new", null, { name: "laptop", addresses: ["192.168.1.40"] }))]);
    assert.equal(peer(state, "new")?.state, "discovered");
    state = fold([{ type: "joining", nodeId: "new", name: "laptop", address: "192.168.1.40:7420" }], state);
    assert.deepEqual([peer(state, "new")?.state, peer(state, "new")?.relation], ["joining", "no-cluster"]);
    // The member list may name it before the join is done: still joining.
    const listedEarly = fold([{ type: "members", members: [{ nodeId: "new", name: "laptop", address: "192.168.1.40:7420" }] }], state);
    assert.deepEqual([peer(listedEarly, "new")?.state, peer(listedEarly, "new")?.relation], ["joining", "member"]);
    // Joined (before the member list says so): a member, since discovery hears it.
    const joined = fold([{ type: "joined", nodeId: "new" }], state);
    assert.deepEqual([peer(joined, "new")?.state, peer(joined, "new")?.relation], ["member", "member"]);
    assert.deepEqual(joined.inputs.members.map((m) => m.nodeId), ["new"]);
    assert.equal(joined.inputs.joining.length, 0);
    // A joining machine discovery never heard: shown by the address it joins from.
    const unheard = fold([{ type: "joining", nodeId: "far", name: "attic", address: "10.9.9.9:7420" }]);
    assert.deepEqual(summary(unheard).at(-1), ["attic", "joining", "no-cluster"]);
    assert.equal(peer(unheard, "far")?.source, "members");
    assert.equal(peer(unheard, "far")?.address, "10.9.9.9:7420");
    // A failed join: back to discovered, or gone when discovery never heard it.
    const failed = fold([{ type: "joinFailed", nodeId: "new" }], state);
    assert.equal(peer(failed, "new")?.state, "discovered");
    assert.equal(peer(fold([{ type: "joinFailed", nodeId: "far" }], unheard), "far"), undefined);
});

test("a node removed from the member list is no longer a member", () => {
    let state = fold([
        { type: "members", members: [{ nodeId: "a", name: "alpha", address: "10.0.0.1:7420" }, { nodeId: "b", name: "beta", address: "10.0.0.2:7420" }] },
        discovery(machine("a", CLUSTER, { name: "alpha" })),
        { type: "reachable", nodeId: "b", ok: true, atMs: 10 },
        { type: "inventory", nodeId: "b", inventory: inventory("mac", { status: "off", profile: null }) }
    ]);
    assert.deepEqual(summary(state).slice(1), [["alpha", "member", "member"], ["beta", "member", "member"]]);
    state = fold([{ type: "members", members: [] }], state);
    // Still heard announcing the cluster id it was given: discovered, not a member.
    assert.deepEqual(summary(state).slice(1), [["alpha", "discovered", "member"]]);
    // Only reachable by address: gone, with what was kept about it.
    assert.equal(peer(state, "b"), undefined);
    assert.equal(state.inputs.reachability.length, 0);
    assert.equal(state.inputs.inventories.length, 0);
});

test("summarizeInventory: OS text, CPU, memory, backend, GPUs and speed", () => {
    const linux = summarizeInventory(inventory("linux-cuda", { status: "ready", profile: profile(0.4, 1.234) }));
    assert.equal(linux.os, "linux 6.1 x64");
    assert.equal(linux.distro, "Debian GNU/Linux 12");
    assert.deepEqual(linux.cpu, { model: "Intel Core i7-12700", cores: 12, threads: 20 });
    assert.equal(linux.ramTotalBytes, 32 * GB);
    assert.equal(linux.backend, "cuda");
    assert.deepEqual(linux.gpus, ["NVIDIA GeForce RTX 4090"]);
    assert.equal(linux.vramFreeBytes, 20 * GB);
    assert.equal(linux.unified, false);
    assert.equal(linux.speed.status, "ready");
    assert.equal(linux.speed.decodeMsPerLayer, 1.234);
    assert.equal(linux.speed.headlineShape, "8b");
    assert.deepEqual(linux.speed.shapes.map((s) => [s.name, s.decodeMsPerLayer]), [["1b", 0.4], ["8b", 1.234]]);
    assert.equal(linux.speed.gpu, true);
    const mac = summarizeInventory(inventory("mac", { status: "measuring", profile: null }));
    assert.equal(mac.os, "macOS 14.5 arm64");
    assert.equal(mac.cpu.model, "Apple M2 Pro");
    assert.equal(mac.unified, true);
    assert.deepEqual([mac.speed.status, mac.speed.decodeMsPerLayer], ["measuring", null]);
    const win = summarizeInventory(inventory("windows", { status: "failed", profile: null, error: "out of memory" }));
    assert.equal(win.os, "Windows 11 Pro x64");
    assert.deepEqual([win.speed.status, win.speed.error], ["failed", "out of memory"]);
    // JSON-friendly: it survives a round trip unchanged.
    assert.deepEqual(JSON.parse(JSON.stringify(linux)), linux);
});

test("the peers table has the key figures, this machine marked", () => {
    const state = fold([
        { type: "members", members: [{ nodeId: "m1", name: "mini", address: "10.0.0.2:7420" }, { nodeId: "m2", name: "gamer", address: null }] },
        discovery(machine("m1", CLUSTER, { name: "mini", addresses: ["10.0.0.2"] }), machine("o1", "c2", { name: "neighbour", addresses: ["10.0.0.7"] })),
        { type: "inventory", nodeId: "self", inventory: inventory("linux-cuda", { status: "ready", profile: profile(0.4, 1.234) }) },
        { type: "inventory", nodeId: "m1", inventory: inventory("mac", { status: "measuring", profile: null }) },
        { type: "inventory", nodeId: "m2", inventory: inventory("windows", { status: "off", profile: null }) }
    ]);
    const table = formatPeersTable(state);
    const lines = table.split("\n");
    assert.match(lines[0]!, /^NAME\s+STATE\s+ADDRESS\s+OS\s+BACKEND\s+MEMORY\s+SPEED\s+LINK$/);
    assert.match(lines[1]!, /^studio \(this machine\)\s+member\s+—\s+linux 6\.1 x64\s+cuda\s+12\.1\/32\.0 GB free, VRAM 20\.0\/24\.0 GB\s+1\.2 ms\/layer\s+—$/);
    assert.match(lines[2]!, /^gamer\s+lost\s+—\s+Windows 11 Pro x64\s+vulkan\s+40\.0\/64\.0 GB free, VRAM 18\.0\/20\.0 GB\s+—\s+—$/);
    assert.match(lines[3]!, /^mini\s+member\s+10\.0\.0\.2:7420\s+macOS 14\.5 arm64\s+metal \(unified\)\s+12\.1\/32\.0 GB free\s+measuring\s+—$/);
    assert.match(lines[4]!, /^neighbour\s+discovered, other cluster\s+10\.0\.0\.7:7420\s+—\s+—\s+—\s+—\s+—$/);
    assert.equal(lines.length, 5);
    // Columns line up: every row's ADDRESS starts where the header's does.
    const at = lines[0]!.indexOf("ADDRESS");
    for (const line of lines.slice(1)) assert.match(line.slice(at), /^(—|10\.)/);
    assert.ok(lines.every((l) => l === l.trimEnd()));
    // A discovery problem is said under the table.
    const problem = fold([{ type: "discovery", state: { clusterId: CLUSTER, machines: [], problem: "multicast is blocked" } }], state);
    assert.match(formatPeersTable(problem), /\n\ndiscovery: multicast is blocked$/);
});

test("state first, then changes, through EventHub: a subscriber's copy stays in step", () => {
    const hub = new EventHub<ClusterViewState, ClusterViewEvent>(initialClusterViewState(SELF), applyClusterViewEvent);
    hub.emit({ type: "members", members: [{ nodeId: "m1", name: "mini", address: "10.0.0.2:7420" }] });
    let copy: ClusterViewState | null = null;
    const types: string[] = [];
    const unsubscribe = hub.subscribe((message) => {
        types.push(message.type);
        copy = message.type === "state" ? (message as StateMessage<ClusterViewState>).state : applyClusterViewEvent(copy!, message as ClusterViewEvent);
    });
    assert.deepEqual(types, ["state"]);
    assert.deepEqual(summary(copy!), [["studio", "member", "self"], ["mini", "lost", "member"]]);
    hub.emit(discovery(machine("m1", CLUSTER, { name: "mini" })));
    hub.emit({ type: "inventory", nodeId: "m1", inventory: inventory("mac", { status: "off", profile: null }) });
    hub.emit({ type: "joining", nodeId: "j", name: "new", address: "10.0.0.5:7420" });
    hub.emit({ type: "joined", nodeId: "j" });
    hub.emit({ type: "reachable", nodeId: "j", ok: true, atMs: 50 });
    unsubscribe();
    assert.deepEqual(types, ["state", "discovery", "inventory", "joining", "joined", "reachable"]);
    assert.deepEqual(copy, hub.state);
    assert.deepEqual(summary(hub.state), [["studio", "member", "self"], ["mini", "member", "member"], ["new", "member", "member"]]);
    // The state is plain data.
    assert.deepEqual(JSON.parse(JSON.stringify(hub.state)), hub.state);
});

// ---- measured links ------------------------------------------------------------------------

const link = (latencyMs: number, bandwidthMBs: number | null, measuredAtMs: number): PeerLink => ({ latencyMs, bandwidthMBs, measuredAtMs });

test("a member's measured link: kept without a new one, replaced by a new one, the last known after a failure", { timeout: 10000 }, () => {
    const members: ClusterViewEvent = { type: "members", members: [{ nodeId: "self", name: "studio", address: null }, { nodeId: "m1", name: "mini", address: "10.0.0.2:7420" }] };
    let state = fold([members]);
    assert.equal(peer(state, "m1")?.link, null);
    const first = link(0.21, 850, 100);
    state = fold([{ type: "reachable", nodeId: "m1", ok: true, atMs: 100, link: first }], state);
    assert.deepEqual(peer(state, "m1")?.link, first);
    assert.deepEqual(state.inputs.reachability.find((r) => r.nodeId === "m1")?.link, first);
    // An answer with no link (or a null one) keeps the previous one.
    state = fold([{ type: "reachable", nodeId: "m1", ok: true, atMs: 200 }, { type: "reachable", nodeId: "m1", ok: true, atMs: 250, link: null }], state);
    assert.deepEqual(peer(state, "m1")?.link, first);
    // A new measurement replaces it.
    const second = link(0.3, null, 300);
    state = fold([{ type: "reachable", nodeId: "m1", ok: true, atMs: 300, link: second }], state);
    assert.deepEqual(peer(state, "m1")?.link, second);
    // A failed call keeps the last known link (a link it comes with is not taken), while the member is lost.
    state = fold([{ type: "reachable", nodeId: "m1", ok: false, atMs: 400, link: link(9, 1, 400) }], state);
    assert.equal(peer(state, "m1")?.state, "lost");
    assert.deepEqual(peer(state, "m1")?.link, second);
    // An older answer arriving late does not bring its link.
    assert.deepEqual(peer(fold([{ type: "reachable", nodeId: "m1", ok: true, atMs: 350, link: link(5, 5, 350) }], state), "m1")?.link, second);
    // A joining machine has its link; this machine and machines neither members nor joining have none.
    const others = fold([
        discovery(machine("o1", "c2", { name: "neighbour" })),
        { type: "joining", nodeId: "j1", name: "laptop", address: "10.0.0.5:7420" },
        { type: "reachable", nodeId: "j1", ok: true, atMs: 10, link: link(1, 100, 10) },
        { type: "reachable", nodeId: "o1", ok: true, atMs: 10, link: link(2, 200, 10) },
        { type: "reachable", nodeId: "self", ok: true, atMs: 10, link: link(3, 300, 10) }
    ], state);
    assert.deepEqual(peer(others, "j1")?.link, link(1, 100, 10));
    assert.equal(peer(others, "o1")?.link, null);
    assert.equal(peer(others, "self")?.link, null);
    // JSON-friendly.
    assert.deepEqual(JSON.parse(JSON.stringify(others)), others);
});

test("the table's LINK column, last: latency and bandwidth, latency alone until the bandwidth is measured, — when none", { timeout: 10000 }, () => {
    const state = fold([
        { type: "members", members: [{ nodeId: "a", name: "alpha", address: "10.0.0.1:7420" }, { nodeId: "b", name: "beta", address: "10.0.0.2:7420" }, { nodeId: "c", name: "gamma", address: "10.0.0.3:7420" }] },
        { type: "reachable", nodeId: "a", ok: true, atMs: 10, link: link(0.21, 850, 10) },
        { type: "reachable", nodeId: "b", ok: true, atMs: 10, link: link(0.21, null, 10) },
        { type: "reachable", nodeId: "c", ok: true, atMs: 10 }
    ]);
    const lines = formatPeersTable(state).split("\n");
    assert.match(lines[0]!, /\s+SPEED\s+LINK$/);
    const at = lines[0]!.indexOf("LINK");
    assert.deepEqual(lines.slice(1).map((l) => [l.split(" ")[0], l.slice(at)]), [
        ["studio", "—"],
        ["alpha", "0.21 ms, 850 MB/s"],
        ["beta", "0.21 ms"],
        ["gamma", "—"]
    ]);
});

// ---- the model and its plan ----------------------------------------------------------------

const MB = 1024 ** 2;

function stage(nodeId: string, name: string, layers: [number, number], gpuLayers: number, memoryBytes: number, predictedMsPerToken: number | null): ClusterModelStage {
    return { nodeId, name, layers, gpuLayers, memoryBytes, predictedMsPerToken };
}

function model(extra: Partial<ClusterModel> = {}): ClusterModel {
    return {
        name: "tiny.gguf", modelSha256: "ab".repeat(32), hostNodeId: "a", hostName: "alpha", state: "ready", message: "", planVersion: 2,
        plan: { stages: [stage("a", "alpha", [0, 3], 0, 120 * MB, 9.1), stage("b", "beta", [3, 6], 2, 130 * MB, 9.0)], predictedTokensPerSecond: 45.1 },
        proposed: null,
        ...extra
    };
}

const alphaBeta: ClusterViewEvent = {
    type: "members",
    members: [{ nodeId: "a", name: "alpha", address: "10.0.0.1:7420" }, { nodeId: "b", name: "beta", address: "10.0.0.2:7420" }, { nodeId: "g", name: "gamma", address: "10.0.0.3:7420" }]
};

test("the model event sets the cluster's model and replaces it; null clears it", { timeout: 10000 }, () => {
    const initial = initialClusterViewState(SELF);
    assert.equal(initial.model, null);
    assert.equal(initial.inputs.model, null);
    const given = model();
    const set = fold([alphaBeta, { type: "model", model: given }], initial);
    assert.deepEqual(set.model, given);
    assert.deepEqual(set.inputs.model, given);
    // Kept as data: changing what was given afterwards does not change the state.
    const copy = structuredClone(given);
    given.plan.stages[0]!.layers[1] = 99;
    assert.deepEqual(set.model, copy);
    // Other events keep it.
    assert.deepEqual(fold([{ type: "reachable", nodeId: "a", ok: true, atMs: 5 }], set).model, copy);
    const replaced = fold([{ type: "model", model: model({ state: "replanning", planVersion: 3 }) }], set);
    assert.deepEqual([replaced.model?.state, replaced.model?.planVersion], ["replanning", 3]);
    const cleared = fold([{ type: "model", model: null }], replaced);
    assert.equal(cleared.model, null);
    assert.equal(cleared.inputs.model, null);
    assert.deepEqual(JSON.parse(JSON.stringify(replaced)), replaced);
});

test("stage and host names follow the peers' current names; a node that is not a peer keeps the name given", { timeout: 10000 }, () => {
    const given = model({
        hostNodeId: "self", hostName: "old-studio",
        plan: { stages: [stage("self", "old-studio", [0, 2], 0, MB, null), stage("b", "old-beta", [2, 4], 0, MB, null), stage("x", "stranger", [4, 6], 0, MB, null)], predictedTokensPerSecond: null },
        proposed: { reason: "beta is back", stages: [stage("b", "old-beta", [0, 6], 0, MB, null)], predictedTokensPerSecond: null }
    });
    let state = fold([alphaBeta, { type: "model", model: given }]);
    assert.deepEqual(state.model?.plan.stages.map((s) => s.name), ["studio", "beta", "stranger"]);
    assert.deepEqual(state.model?.proposed?.stages.map((s) => s.name), ["beta"]);
    assert.equal(state.model?.hostName, "studio");
    // Renamed: beta announces a new name, this machine is renamed; the view follows, the inputs keep what was given.
    state = fold([discovery(machine("b", CLUSTER, { name: "den" })), { type: "self", self: { ...SELF, name: "office" } }], state);
    assert.deepEqual(state.model?.plan.stages.map((s) => s.name), ["office", "den", "stranger"]);
    assert.deepEqual(state.model?.proposed?.stages.map((s) => s.name), ["den"]);
    assert.equal(state.model?.hostName, "office");
    assert.deepEqual(state.inputs.model, given);
    assert.match(formatPeersTable(state), /\n {2}den\s+layers 2-4/);
});

test("the table's model section: the plan in force with its GPU layers, then a proposed one", { timeout: 10000 }, () => {
    const state = fold([alphaBeta, {
        type: "model",
        model: model({
            proposed: {
                reason: "gamma could take part; adopted when the chats in progress end",
                stages: [stage("a", "alpha", [0, 2], 3, 80 * MB, 6.5), stage("b", "beta", [2, 4], 2, 90 * MB, null), stage("g", "gamma", [4, 6], 0, 2.5 * 1024 * MB, 0.5)],
                predictedTokensPerSecond: 60.2
            }
        })
    }]);
    const text = formatPeersTable(state);
    const lines = text.split("\n");
    const at = lines.findIndex((l) => l.startsWith("model:"));
    assert.equal(lines[at - 1], "");
    assert.equal(at, state.peers.length + 2);
    assert.deepEqual(lines.slice(at), [
        "model: tiny.gguf on alpha — ready, plan 2, predicted 45.1 tokens/s",
        "  alpha   layers 0-3   CPU                 120.0 MB   9.1 ms/token",
        "  beta    layers 3-6   2 of 3 on GPU       130.0 MB   9.0 ms/token",
        "proposed (gamma could take part; adopted when the chats in progress end), predicted 60.2 tokens/s",
        "  alpha   layers 0-2   all on GPU + head   80.0 MB    6.5 ms/token",
        "  beta    layers 2-4   all on GPU          90.0 MB",
        "  gamma   layers 4-6   CPU                 2.5 GB     0.50 ms/token"
    ]);
    // The discovery problem comes after it.
    const problem = fold([{ type: "discovery", state: { clusterId: CLUSTER, machines: [], problem: "multicast is blocked" } }], state);
    assert.match(formatPeersTable(problem), /0\.50 ms\/token\n\ndiscovery: multicast is blocked$/);
    // No model: no section.
    assert.doesNotMatch(formatPeersTable(fold([{ type: "model", model: null }], state)), /model:|layers/);
});

test("the table's model section for a failed model says why; predictions not made are left out", { timeout: 10000 }, () => {
    const state = fold([alphaBeta, {
        type: "model",
        model: model({
            state: "failed", message: "beta ran out of memory", planVersion: 1,
            plan: { stages: [stage("a", "alpha", [0, 3], 0, 512, null), stage("b", "beta", [3, 6], 3, 2048, null)], predictedTokensPerSecond: null }
        })
    }]);
    const lines = formatPeersTable(state).split("\n");
    assert.deepEqual(lines.slice(lines.findIndex((l) => l.startsWith("model:"))), [
        "model: tiny.gguf on alpha — failed (beta ran out of memory), plan 1",
        "  alpha   layers 0-3   CPU          512 B",
        "  beta    layers 3-6   all on GPU   2.0 KB"
    ]);
});

test("clusterModelFromWire: the gRPC HostedModel as the view's model; 0 predictions are null, an unknown state is failed", { timeout: 10000 }, () => {
    assert.equal(clusterModelFromWire(null), null);
    const wireStage = (nodeId: string, layerStart: number, layerEnd: number, gpuLayers: number, predictedMsPerToken: number) =>
        ({ nodeId, name: nodeId.toUpperCase(), layerStart, layerEnd, memoryBytes: 1000 * layerEnd, gpuLayers, predictedMsPerToken });
    const wire: HostedModelWire = {
        name: "tiny.gguf", modelSha256: "cd".repeat(32), hostNodeId: "a", hostName: "alpha", state: "replanning", message: "waiting for 1 chat", planVersion: 4,
        predictedTokensPerSecond: 45.1,
        stages: [wireStage("a", 0, 3, 0, 9.1), wireStage("b", 3, 6, 4, 0)],
        proposed: { reason: "gamma could take part", predictedTokensPerSecond: 0, stages: [wireStage("g", 0, 6, 2, 3.5)] }
    };
    const expected: ClusterModel = {
        name: "tiny.gguf", modelSha256: "cd".repeat(32), hostNodeId: "a", hostName: "alpha", state: "replanning", message: "waiting for 1 chat", planVersion: 4,
        plan: {
            stages: [
                { nodeId: "a", name: "A", layers: [0, 3], gpuLayers: 0, memoryBytes: 3000, predictedMsPerToken: 9.1 },
                { nodeId: "b", name: "B", layers: [3, 6], gpuLayers: 4, memoryBytes: 6000, predictedMsPerToken: null }
            ],
            predictedTokensPerSecond: 45.1
        },
        proposed: {
            reason: "gamma could take part",
            stages: [{ nodeId: "g", name: "G", layers: [0, 6], gpuLayers: 2, memoryBytes: 6000, predictedMsPerToken: 3.5 }],
            predictedTokensPerSecond: null
        }
    };
    assert.deepEqual(clusterModelFromWire(wire), expected);
    for (const state of ["loading", "ready", "failed"] as const) assert.equal(clusterModelFromWire({ ...wire, state })?.state, state);
    // An unknown state: failed, with the message kept; no proposed plan: null; no predictions: null.
    const odd = clusterModelFromWire({ ...wire, state: "melting", message: "it is hot", proposed: null, predictedTokensPerSecond: 0 });
    assert.deepEqual([odd?.state, odd?.message, odd?.proposed, odd?.plan.predictedTokensPerSecond], ["failed", "it is hot", null, null]);
    // It goes into the view as it is.
    const state = fold([alphaBeta, { type: "model", model: clusterModelFromWire(wire) }]);
    assert.deepEqual(state.inputs.model, expected);
    assert.deepEqual(state.model?.plan.stages.map((s) => s.name), ["alpha", "beta"]);
});
