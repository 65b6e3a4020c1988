// LAN discovery: the pure fold and policy (no sockets), a manual entry on 127.0.0.1 with a probe,
// and three real peers on a private bridged LAN of network namespaces (find, lost, back, relations).
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import net from "node:net";
import readline from "node:readline";
import { test } from "node:test";
import { Discovery } from "../app/cluster/discovery.ts";
import {
    applyDiscoveryEvent, eventForGoodbye, eventForSighting, initialDiscoveryState, relationOf, silentNodeIds,
    type DiscoveredInfo, type DiscoveryEvent, type DiscoveryState
} from "../app/cluster/discovery-state.ts";
import { discoveryTxt, parseDiscoveryTxt } from "../app/cluster/discovery-record.ts";
import { parseHostPort } from "../app/cluster/host-port.ts";
import type { PeerLine } from "./helpers/discovery-peer.ts";
import { NetnsLan, assertIpAvailable, namespaceExists, netnsUnavailableReason } from "./helpers/netns.ts";

const info = (nodeId: string, clusterId: string | null, extra: Partial<DiscoveredInfo> = {}): DiscoveredInfo =>
    ({ nodeId, name: nodeId, addresses: ["10.0.0.1"], port: 7420, version: "0.1.0", protocol: 2, clusterId, ...extra });

/** Folds a sighting in the way Discovery does: the policy picks the event, the fold applies it. */
function sight(state: DiscoveryState, machine: DiscoveredInfo, atMs: number, instanceName = `hearth-${machine.nodeId}-1`): { state: DiscoveryState; event: DiscoveryEvent } {
    const event = eventForSighting(state, { info: machine, atMs, source: "mdns", instanceName });
    return { state: applyDiscoveryEvent(state, event), event };
}

test("relations follow cluster ids: same is member, another is other-cluster, none is no-cluster", () => {
    assert.equal(relationOf("c1", "c1"), "member");
    assert.equal(relationOf("c1", "c2"), "other-cluster");
    assert.equal(relationOf("c1", null), "no-cluster");
    assert.equal(relationOf(null, "c1"), "other-cluster");
    assert.equal(relationOf(null, null), "no-cluster");
    let state = initialDiscoveryState("c1");
    state = sight(state, info("a", "c1"), 1).state;
    state = sight(state, info("b", "c2"), 1).state;
    state = sight(state, info("c", null), 1).state;
    assert.deepEqual(state.machines.map((m) => [m.nodeId, m.relation]), [["a", "member"], ["b", "other-cluster"], ["c", "no-cluster"]]);
    // This node joins c2: every relation follows.
    state = applyDiscoveryEvent(state, { type: "clusterChanged", clusterId: "c2" });
    assert.deepEqual(state.machines.map((m) => [m.nodeId, m.relation]), [["a", "other-cluster"], ["b", "member"], ["c", "no-cluster"]]);
    // A peer changes cluster: updated, with its new relation.
    const moved = sight(state, info("c", "c2"), 2);
    assert.equal(moved.event.type, "updated");
    assert.equal(moved.state.machines.find((m) => m.nodeId === "c")?.relation, "member");
});

test("duplicate announcements are not double-counted: the second is only 'seen'", () => {
    let state = initialDiscoveryState(null);
    const first = sight(state, info("a", null), 100);
    assert.equal(first.event.type, "found");
    state = first.state;
    const again = sight(state, info("a", null), 200);
    assert.equal(again.event.type, "seen");
    state = again.state;
    assert.equal(state.machines.length, 1);
    assert.equal(state.machines[0]?.lastSeenMs, 200);
    // Even a repeated "found" (as a subscriber's copy might get) replaces, never adds.
    state = applyDiscoveryEvent(state, { type: "found", machine: { ...state.machines[0]!, lastSeenMs: 300 } });
    assert.equal(state.machines.length, 1);
    // The same addresses in another order are no news.
    assert.equal(sight(state, info("a", null, { addresses: ["10.0.0.1"] }), 400).event.type, "seen");
    assert.equal(sight(state, info("a", null, { addresses: ["10.0.0.2"] }), 400).event.type, "updated");
});

test("a silent machine goes lost within lostAfterMs, and comes back when heard again", () => {
    const lostAfterMs = 10000, sweepMs = 1000;
    let state = sight(initialDiscoveryState("c1"), info("a", "c1"), 0).state;
    state = sight(state, info("m", null), 0).state;
    state = applyDiscoveryEvent(state, eventForSighting(state, { info: { ...info("m", null), nodeId: "m" }, atMs: 0, source: "manual", instanceName: "" }));
    assert.deepEqual(silentNodeIds(state, 8999, lostAfterMs, sweepMs, false), []);
    // Sweeps every second: the first one at or after 9 s marks it, so never later than 10 s.
    assert.deepEqual(silentNodeIds(state, 9000, lostAfterMs, sweepMs, false), ["a"], "a manual entry without a probe is never silent");
    assert.deepEqual(silentNodeIds(state, 9000, lostAfterMs, sweepMs, true), ["a", "m"]);
    state = applyDiscoveryEvent(state, { type: "lost", nodeId: "a", reason: "silent", atMs: 9000 });
    assert.equal(state.machines.find((m) => m.nodeId === "a")?.state, "lost");
    assert.deepEqual(silentNodeIds(state, 20000, lostAfterMs, sweepMs, false), [], "lost once, not again");
    const lostTwice = applyDiscoveryEvent(state, { type: "lost", nodeId: "a", reason: "silent", atMs: 9500 });
    assert.deepEqual(lostTwice, state);
    const back = sight(state, info("a", "c1"), 12000);
    assert.equal(back.event.type, "back");
    assert.equal(back.state.machines.find((m) => m.nodeId === "a")?.state, "discovered");
    assert.equal(back.state.machines.length, 2);
    assert.equal(applyDiscoveryEvent(state, { type: "lost", nodeId: "nobody", reason: "silent", atMs: 1 }), state, "an unknown node changes nothing");
});

test("a goodbye drops the current instance at once, but not after a re-advertisement", () => {
    let state = sight(initialDiscoveryState(null), info("a", null), 0, "hearth-a-1").state;
    assert.deepEqual(eventForGoodbye(state, "a", "hearth-a-1", 5), { type: "lost", nodeId: "a", reason: "goodbye", atMs: 5 });
    const readvertised = sight(state, info("a", "c9"), 1, "hearth-a-2");
    assert.equal(readvertised.event.type, "updated");
    state = readvertised.state;
    assert.equal(eventForGoodbye(state, "a", "hearth-a-1", 5), null, "the old instance's goodbye is no news");
    assert.equal(eventForGoodbye(state, "b", "hearth-b-1", 5), null);
});

test("TXT records: what a node writes reads back; foreign or malformed records are ignored", () => {
    const mine = { nodeId: "node-1", name: "mac mini", port: 7421, version: "0.1.0", protocol: 2, clusterId: "c1" };
    assert.deepEqual(parseDiscoveryTxt(discoveryTxt(mine), ["10.0.0.5", "10.0.0.5"]), { ...mine, addresses: ["10.0.0.5"] });
    // bonjour-service decodes "cluster=" (no cluster) as no key at all.
    const { cluster: _unused, ...noCluster } = discoveryTxt({ ...mine, clusterId: null });
    assert.equal(parseDiscoveryTxt(noCluster, [])?.clusterId, null);
    assert.equal(parseDiscoveryTxt({ ...discoveryTxt(mine), cluster: "" }, [])?.clusterId, null);
    assert.equal(parseDiscoveryTxt({ name: "printer" }, []), null);
    assert.equal(parseDiscoveryTxt({ ...discoveryTxt(mine), grpc: "99999" }, []), null);
    assert.equal(parseDiscoveryTxt({ ...discoveryTxt(mine), id: "bad id!" }, []), null);
    assert.equal(parseDiscoveryTxt(undefined, []), null);
});

test("addresses typed by a user: host:port, [v6]:port, and a message that says what to type", () => {
    assert.deepEqual(parseHostPort(" 192.168.1.20:7420 "), { host: "192.168.1.20", port: 7420 });
    assert.deepEqual(parseHostPort("mac-mini.local:7420"), { host: "mac-mini.local", port: 7420 });
    assert.deepEqual(parseHostPort("[fe80::1]:7420"), { host: "fe80::1", port: 7420 });
    for (const bad of ["192.168.1.20", "host:0", "host:70000", ":7420", "a b:1"]) assert.throws(() => parseHostPort(bad), /e\.g\. 192\.168\.1\.20:7420/);
});

test("options that cannot work are refused with what to change", () => {
    const base = { nodeId: "n1", name: "n1", port: 7420, clusterId: null, version: "t", protocol: 2, interfaceAddress: "127.0.0.1" };
    assert.throws(() => Discovery.start({ ...base, nodeId: "has space" }), /letters, digits/);
    assert.throws(() => Discovery.start({ ...base, port: 0 }), /start the node first/);
    assert.throws(() => Discovery.start({ ...base, lostAfterMs: 1000, browseIntervalMs: 800 }), /at most half of lostAfterMs/);
});

/** A stand-in for a Hearth node's gRPC "who are you": a TCP server on 127.0.0.1 that answers with its info as JSON. */
class FakeNode {
    private server: net.Server | null = null;
    port = 0;
    constructor(readonly info: DiscoveredInfo) {}
    async listen(port = 0): Promise<void> {
        const server = net.createServer((socket) => socket.end(JSON.stringify({ ...this.info, port: this.port })));
        await new Promise<void>((resolve, reject) => { server.once("error", reject); server.listen(port, "127.0.0.1", () => resolve()); });
        this.server = server;
        this.port = (server.address() as net.AddressInfo).port;
    }
    async close(): Promise<void> {
        const server = this.server;
        this.server = null;
        if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    }
}

/** The probe a Discovery is given: connect to host:port, read the JSON. */
function tcpProbe(address: string): Promise<DiscoveredInfo> {
    const { host, port } = parseHostPort(address);
    return new Promise((resolve, reject) => {
        const socket = net.connect({ host, port });
        const chunks: Buffer[] = [];
        socket.setTimeout(1000, () => socket.destroy(new Error("no answer in 1 s")));
        socket.on("data", (chunk) => chunks.push(chunk));
        socket.on("error", reject);
        socket.on("end", () => {
            try { resolve(JSON.parse(Buffer.concat(chunks).toString()) as DiscoveredInfo); } catch (error) { reject(error as Error); }
        });
    });
}

async function until(what: string, predicate: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
    }
}

test("on 127.0.0.1, addByAddress with a probe shows the peer; it goes lost when it stops answering and comes back", { timeout: 60000 }, async () => {
    // Ids unique per run: another run's Discovery on this host's loopback may be heard too.
    const peerId = `peer-${process.pid}`;
    const peer = new FakeNode(info(peerId, "c1", { name: "mac mini", addresses: [] }));
    await peer.listen();
    const discovery = Discovery.start({
        nodeId: `self-${process.pid}`, name: "self", port: 7420, clusterId: "c1", version: "t", protocol: 2,
        interfaceAddress: "127.0.0.1", lostAfterMs: 1000, browseIntervalMs: 200, probe: tcpProbe
    });
    const seen: string[] = [];
    const about = (message: { type: string }) => "machine" in message ? (message.machine as { nodeId: string }).nodeId : "nodeId" in message ? message.nodeId : undefined;
    discovery.events.subscribe((message) => { if (message.type === "state" || (message.type !== "seen" && about(message) === peerId)) seen.push(message.type); });
    const listed = () => discovery.machines.find((m) => m.nodeId === peerId);
    try {
        const machine = await discovery.addByAddress(`127.0.0.1:${peer.port}`);
        assert.deepEqual(
            { nodeId: machine.nodeId, name: machine.name, addresses: machine.addresses, port: machine.port, relation: machine.relation, state: machine.state, source: machine.source },
            { nodeId: peerId, name: "mac mini", addresses: ["127.0.0.1"], port: peer.port, relation: "member", state: "discovered", source: "manual" }
        );
        assert.deepEqual(seen, ["state", "found"]);
        assert.equal(discovery.machines.filter((m) => m.source === "manual").length, 1);
        const port = peer.port;
        await peer.close();
        await until("the stopped peer to be lost", () => listed()?.state === "lost", 3000);
        await peer.listen(port);
        await until("the peer to be back", () => listed()?.state === "discovered", 3000);
        assert.deepEqual(seen, ["state", "found", "lost", "back"]);
        // Nothing listens on the fake's old port now: a clear error, and no entry.
        await peer.close();
        await assert.rejects(discovery.addByAddress(`127.0.0.1:${port}`), /could not reach Hearth at 127\.0\.0\.1:\d+ .*firewall/);
        await assert.rejects(discovery.addByAddress("nonsense"), /e\.g\. 192\.168\.1\.20:7420/);
    } finally {
        await discovery.dispose();
        await peer.close();
    }
    assert.equal(discovery.disposed, true);
    await assert.rejects(discovery.addByAddress("127.0.0.1:1"), /was stopped/);
});

test("without a probe, addByAddress lists a manual entry by its address, and it stays", { timeout: 30000 }, async () => {
    const discovery = Discovery.start({ nodeId: `self-${process.pid}-b`, name: "self", port: 7420, clusterId: null, version: "t", protocol: 2, interfaceAddress: "127.0.0.1", lostAfterMs: 400, browseIntervalMs: 100 });
    try {
        const machine = await discovery.addByAddress("127.0.0.1:7999");
        assert.equal(machine.state, "discovered");
        assert.equal(machine.source, "manual");
        assert.deepEqual([machine.addresses, machine.port], [["127.0.0.1"], 7999]);
        await new Promise((resolve) => setTimeout(resolve, 800));
        assert.equal(discovery.machines.find((m) => m.nodeId === machine.nodeId)?.state, "discovered");
    } finally {
        await discovery.dispose();
    }
});

/** One discovery-peer process in a namespace, and the JSON lines it printed. */
class Peer {
    readonly lines: PeerLine[] = [];
    readonly stderr: string[] = [];
    readonly child: ChildProcess;
    constructor(lan: NetnsLan, index: number, readonly nodeId: string, args: string[]) {
        this.child = lan.spawn(index, process.execPath, ["--import", "tsx", "test/helpers/discovery-peer.ts", "--node-id", nodeId, "--port", "7420", ...args]);
        readline.createInterface({ input: this.child.stdout! }).on("line", (text) => {
            try { this.lines.push(JSON.parse(text) as PeerLine); } catch { this.stderr.push(text); }
        });
        this.child.stderr!.on("data", (chunk: Buffer) => this.stderr.push(chunk.toString()));
    }
    get latest(): PeerLine | undefined { return this.lines.at(-1); }
    /** The first line (from `from` on) that satisfies `predicate`. */
    async waitFor(what: string, predicate: (line: PeerLine) => boolean, timeoutMs: number, from = 0): Promise<PeerLine> {
        let found: PeerLine | undefined;
        await until(`${this.nodeId}: ${what}`, () => (found = this.lines.slice(from).find(predicate)) !== undefined || this.child.exitCode !== null, timeoutMs)
            .catch((error: Error) => { throw new Error(`${error.message}\nlast line: ${JSON.stringify(this.latest)}\nstderr: ${this.stderr.join("").slice(-2000)}`); });
        if (!found) throw new Error(`${this.nodeId} exited (${this.child.exitCode}) while waiting for ${what}: ${this.stderr.join("").slice(-2000)}`);
        return found;
    }
    machine(line: PeerLine | undefined, nodeId: string) { return line?.machines.find((m) => m.nodeId === nodeId); }
    kill(signal: NodeJS.Signals): Promise<void> {
        if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
        return new Promise((resolve) => { this.child.once("exit", () => resolve()); this.child.kill(signal); });
    }
}

const netnsSkip = netnsUnavailableReason();
if (netnsSkip) console.log(`# skipping the network-namespace discovery test: ${netnsSkip}`);

test("three machines on a bridged LAN find each other, see relations, go lost on SIGKILL and come back", { skip: netnsSkip ?? false, timeout: 180000 }, async () => {
    assertIpAvailable();
    const lan = NetnsLan.create({ count: 3 });
    const peers: Peer[] = [];
    const timings: Record<string, number> = {};
    try {
        const spawnedAt = Date.now();
        // n0 and n1 pin their interface (as the app will); n2 leaves it to the defaults.
        const args = [
            ["--name", "alpha", "--cluster", "c1", "--interface", lan.host(0).address],
            ["--name", "beta", "--cluster", "c1", "--interface", lan.host(1).address],
            ["--name", "gamma"]
        ];
        peers.push(...args.map((a, i) => new Peer(lan, i, `n${i}`, a)));
        const [n0, n1, n2] = peers as [Peer, Peer, Peer];
        const ready = await Promise.all(peers.map((p) => p.waitFor("ready", (l) => l.type === "ready", 30000)));
        const startedAt = Math.max(...ready.map((l) => l.t));
        const sees = (line: PeerLine, ids: string[]) => ids.every((id) => line.machines.some((m) => m.nodeId === id && m.state === "discovered"));
        const all = await Promise.all(peers.map((p) => p.waitFor("the other two", (l) => sees(l, peers.filter((o) => o !== p).map((o) => o.nodeId)), 15000)));
        timings.findMs = Math.max(...all.map((l) => l.t)) - startedAt;
        timings.findFromSpawnMs = Math.max(...all.map((l) => l.t)) - spawnedAt;
        assert.ok(timings.findMs < 5000, `all three should find each other within 5 s of starting, took ${timings.findMs} ms`);
        for (const p of peers) assert.equal(p.latest?.machines.length, 2, `${p.nodeId} lists exactly the two others: ${JSON.stringify(p.latest)}`);

        // Relations, as each sees the others; addresses are the test LAN's.
        const at0 = n0.latest;
        assert.deepEqual(n0.machine(at0, "n1"), { nodeId: "n1", name: "beta", addresses: [lan.host(1).address], port: 7420, clusterId: "c1", relation: "member", state: "discovered", source: "mdns" });
        assert.equal(n0.machine(at0, "n2")?.relation, "no-cluster");
        assert.equal(n0.machine(at0, "n2")?.addresses[0], lan.host(2).address);
        assert.equal(n2.machine(n2.latest, "n0")?.relation, "other-cluster");

        // gamma joins another cluster: re-advertised, the others see it updated, and never lost.
        const mark0 = n0.lines.length, mark1 = n1.lines.length;
        n2.child.stdin!.write("cluster c2\n");
        const updated = await n0.waitFor("gamma in c2", (l) => n0.machine(l, "n2")?.clusterId === "c2", 10000, mark0);
        assert.equal(updated.type, "updated");
        assert.equal(n0.machine(updated, "n2")?.relation, "other-cluster");
        await n1.waitFor("gamma in c2", (l) => n1.machine(l, "n2")?.relation === "other-cluster", 10000, mark1);
        await new Promise((resolve) => setTimeout(resolve, 1500));
        for (const p of [n0, n1]) assert.ok(!p.lines.some((l) => l.type === "lost" && l.subject === "n2"), `${p.nodeId} never lost gamma while it re-advertised`);

        // beta dies without a goodbye: the others mark it lost within 10 s.
        const beforeKill = [n0.lines.length, n2.lines.length];
        const killedAt = Date.now();
        await n1.kill("SIGKILL");
        const lost = await Promise.all([n0, n2].map((p, i) => p.waitFor("beta lost", (l) => l.type === "lost" && l.subject === "n1", 15000, beforeKill[i])));
        timings.lostMs = Math.max(...lost.map((l) => l.t)) - killedAt;
        // 100 ms for timer jitter: the sweep runs every second and marks at 9 s of silence.
        assert.ok(timings.lostMs <= 10100, `beta should be lost within 10 s, took ${timings.lostMs} ms`);
        assert.ok(timings.lostMs >= 5000, `lost too early (${timings.lostMs} ms): a live machine would flicker`);
        for (const l of lost) assert.equal(l.machines.find((m) => m.nodeId === "n1")?.state, "lost");

        // beta starts again (same node id): back, discovered, by itself.
        const beforeBack = [n0.lines.length, n2.lines.length];
        const again = new Peer(lan, 1, "n1", args[1]!);
        peers.push(again);
        const againReady = await again.waitFor("ready", (l) => l.type === "ready", 30000);
        const back = await Promise.all([n0, n2].map((p, i) => p.waitFor("beta back", (l) => l.type === "back" && l.subject === "n1", 15000, beforeBack[i])));
        timings.backMs = Math.max(...back.map((l) => l.t)) - againReady.t;
        for (const l of back) assert.equal(l.machines.find((m) => m.nodeId === "n1")?.state, "discovered");
        assert.ok(timings.backMs < 10000, `beta should be back within 10 s, took ${timings.backMs} ms`);
        const refound = await again.waitFor("the others again", (l) => sees(l, ["n0", "n2"]), 10000);
        assert.equal(again.machine(refound, "n2")?.relation, "other-cluster");

        // alpha stops cleanly: its goodbye drops it at once, long before the 10 s of silence.
        const beforeBye = [again.lines.length, n2.lines.length];
        const stoppedAt = Date.now();
        await n0.kill("SIGTERM");
        const bye = await Promise.all([again, n2].map((p, i) => p.waitFor("alpha gone", (l) => l.type === "lost" && l.subject === "n0", 10000, beforeBye[i])));
        timings.goodbyeMs = Math.max(...bye.map((l) => l.t)) - stoppedAt;
        assert.ok(timings.goodbyeMs < 3000, `a goodbye should drop alpha at once, took ${timings.goodbyeMs} ms`);

        // An interface address this machine does not have: a problem that says what to choose.
        const wrong = new Peer(lan, 0, "n9", ["--interface", `${lan.host(0).address.replace(/\.\d+$/, ".99")}`]);
        peers.push(wrong);
        const problem = await wrong.waitFor("a problem", (l) => l.problem !== null, 15000);
        assert.match(problem.problem ?? "", /cannot use the interface 10\.253\.77\.99 .*choose the address/);
        console.log(`# discovery timings: ${JSON.stringify(timings)}`);
    } finally {
        await Promise.all(peers.map((p) => p.kill("SIGKILL")));
        lan.dispose();
    }
    for (const host of lan.hosts) assert.equal(namespaceExists(host.namespace), false, `namespace ${host.namespace} was removed`);
});
