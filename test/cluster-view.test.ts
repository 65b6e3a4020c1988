// The cluster view: a pure fold of discovery snapshots, the member list, joins, inventories and
// GetInfo answers into one list of peers (this machine first), and its table for `hearth peers`.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
    applyClusterViewEvent, formatPeersTable, initialClusterViewState, summarizeInventory,
    type ClusterViewEvent, type ClusterViewState, type Peer
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
    assert.match(lines[0]!, /^NAME\s+STATE\s+ADDRESS\s+OS\s+BACKEND\s+MEMORY\s+SPEED$/);
    assert.match(lines[1]!, /^studio \(this machine\)\s+member\s+—\s+linux 6\.1 x64\s+cuda\s+12\.1\/32\.0 GB free, VRAM 20\.0\/24\.0 GB\s+1\.2 ms\/layer$/);
    assert.match(lines[2]!, /^gamer\s+lost\s+—\s+Windows 11 Pro x64\s+vulkan\s+40\.0\/64\.0 GB free, VRAM 18\.0\/20\.0 GB\s+—$/);
    assert.match(lines[3]!, /^mini\s+member\s+10\.0\.0\.2:7420\s+macOS 14\.5 arm64\s+metal \(unified\)\s+12\.1\/32\.0 GB free\s+measuring$/);
    assert.match(lines[4]!, /^neighbour\s+discovered, other cluster\s+10\.0\.0\.7:7420\s+—\s+—\s+—\s+—$/);
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
