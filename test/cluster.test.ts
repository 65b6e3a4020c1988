// Join cluster, end to end with real processes: `hearth node` creates a cluster on its first
// start, `hearth invite` makes a code, `hearth node --join CODE` and `hearth join` admit machines;
// wrong, reused and expired codes are refused with their own messages; `hearth remove` and
// `hearth leave` revoke; a removed or foreign machine gets nothing; `hearth peers` shows the
// cluster; and a generation between members puts neither its prompt nor its activations on the wire.
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { loadOrCreateNodeIdentity } from "../app/cluster/identity.ts";
import { loadMembership } from "../app/cluster/membership.ts";
import { createNodeCluster, loadNodeCluster, type NodeCluster } from "../app/cluster/node-cluster.ts";
import type { ClusterViewState } from "../app/cluster/cluster-view.ts";
import { NodeClient } from "../app/protocol/node-client.ts";
import { joinThrough } from "../app/protocol/admission-client.ts";
import { JoinRefusedError } from "../app/cluster/errors.ts";
import { connectPipeline } from "../app/coordinator/connect.ts";
import { generate } from "../app/engine/generate.ts";
import { Tokenizer } from "../app/model/tokenizer.ts";
import { StageRuntime } from "../app/stage/runtime.ts";
import { sliceStage } from "../app/stage/slice.ts";
import { SMALL, buildModel, tempDir } from "./helpers/models.ts";
import { runHearth, startNode, stopNode, type NodeProcess } from "./helpers/nodes.ts";
import { referenceGreedy } from "./helpers/reference.ts";
import { captureUnavailableReason, startCapture } from "./helpers/packet-capture.ts";

const dir = tempDir("cluster");
const running: NodeProcess[] = [];
after(async () => {
    await Promise.all(running.map(stopNode));
    fs.rmSync(dir, { recursive: true, force: true });
});

const dataDir = (name: string) => path.join(dir, name);

/** Runs a `hearth` command to its end. */
const hearth = (args: string[], timeoutMs = 60000) => runHearth(args, timeoutMs);

async function node(name: string, extra: string[] = []): Promise<NodeProcess> {
    const n = await startNode(name, dataDir(name), ["--member-sync-ms", "1000", ...extra], { enroll: false });
    running.push(n);
    return n;
}

async function invite(on: string): Promise<string> {
    const r = await hearth(["invite", "--data-dir", dataDir(on), "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const { code, address } = JSON.parse(r.stdout) as { code: string; address: string };
    assert.match(code, /^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    assert.match(address, /^127\.0\.0\.1:\d+$/);
    return code;
}

async function peers(on: string): Promise<ClusterViewState> {
    const r = await hearth(["peers", "--json", "--data-dir", dataDir(on)]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as ClusterViewState;
}

async function until(what: string, fn: () => Promise<boolean> | boolean, ms = 15000): Promise<void> {
    const t0 = Date.now();
    while (!(await fn())) {
        if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
        await new Promise((r) => setTimeout(r, 200));
    }
}

const members = (view: ClusterViewState) => view.peers.filter((p) => p.state === "member").map((p) => p.name).sort();

/** What a machine that once was a member holds, read without the checks loadNodeCluster makes (it may have been removed). */
function credentialsOf(name: string): Pick<NodeCluster, "identity" | "membership"> {
    const identity = loadOrCreateNodeIdentity(dataDir(name));
    return { identity, membership: loadMembership(dataDir(name), identity)! };
}

/** Every Node method, called by `client`; resolves with each one's status code. */
async function everyMethod(client: NodeClient): Promise<Record<string, grpc.status>> {
    const code = (p: Promise<unknown>) => p.then(() => grpc.status.OK, (e: grpc.ServiceError) => e.code);
    return {
        GetInfo: await code(client.getInfo(5000)),
        Health: await code(client.health(5000)),
        Probe: await code(client.probe(new Uint8Array(16), 5000)),
        SyncMembers: await code(client.syncMembers([], 5000)),
        RemoveMember: await code(client.removeMember("0".repeat(32), 5000)),
        CreateInvite: await code(client.createInvite(5000)),
        GetPeers: await code(client.getPeers(5000)),
        PrepareStage: await code(client.prepareStage({ pipelineId: "x" }, 5000)),
        ClosePipeline: await code(client.closePipeline("x", 5000)),
        UploadStage: await code(client.upload(__filename(), { modelSha256: "a".repeat(64), layers: { start: 0, end: 1 }, stageSha256: "a".repeat(64), stageBytes: 10 }, 0)),
        Attach: await code(new Promise((resolve, reject) => { const s = client.attach("x", 0); s.on("error", reject); s.on("data", resolve); })),
        Forward: await code(new Promise<void>((resolve, reject) => { const f = client.forward(); f.done.then(resolve, reject); f.stream.write({ release: { pipelineId: "x", stageIndex: 0, seqId: 0, epoch: 1 } }); f.stream.end(); }))
    };
}
function __filename(): string { return new URL(import.meta.url).pathname; }

test("create, invite, join: three members; wrong, reused and expired codes are refused with their own message; the CLI says what to do", { timeout: 180000 }, async () => {
    const a = await node("alpha");
    const created = loadNodeCluster(dataDir("alpha"))!;
    assert.ok(created.authority != null, "the first start made a cluster with its own CA");

    const code = await invite("alpha");
    // hearth node --join: joins, then serves.
    const b = await node("beta", ["--join", code, "--peer", a.address]);
    // The same code again: used.
    const reused = await hearth(["join", code, "--peer", a.address, "--data-dir", dataDir("gamma")]);
    assert.equal(reused.code, 1);
    assert.match(reused.stderr, /this join code has already been used \(each code adds one machine\); make a new code on the inviting machine/);
    // A well-formed code that was never given out: wrong.
    const wrong = await hearth(["join", "7KQ2-M9XD-4HPW-3TRN", "--peer", a.address, "--data-dir", dataDir("gamma")]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /not one of the codes this machine has given out; check the code on the inviting machine/);
    // A mistyped code: refused before anything is sent.
    const typo = await hearth(["join", "7KQ2-M9XD-4HPW", "--peer", a.address, "--data-dir", dataDir("gamma")]);
    assert.equal(typo.code, 1);
    assert.match(typo.stderr, /a join code has 16 characters, this one has 12/);
    assert.equal(loadNodeCluster(dataDir("gamma")), null, "nothing was kept from the refused joins");
    // A code made on beta, which does not hold the cluster's keys: beta asks alpha, and the joiner joins through alpha.
    const relayed = await hearth(["invite", "--data-dir", dataDir("beta"), "--json"]);
    assert.equal(relayed.code, 0, relayed.stderr);
    const { code: code2, address: joinAddress, inviter } = JSON.parse(relayed.stdout) as { code: string; address: string; inviter: string };
    assert.deepEqual([joinAddress, inviter], [a.address, "alpha"]);
    const shown = await hearth(["invite", "--data-dir", dataDir("beta")]);
    assert.match(shown.stdout, new RegExp(`join code: .*\\n.*made by 'alpha'.*\\n  hearth join [0-9A-Z-]{19} --peer ${a.address.replace(/\./g, "\\.")}`));
    // hearth join (no node running yet), then hearth node.
    const joined = await hearth(["join", code2, "--peer", joinAddress, "--data-dir", dataDir("gamma"), "--name", "gamma"]);
    assert.equal(joined.code, 0, joined.stderr);
    assert.match(joined.stderr, /joined the cluster through 'alpha'/);
    const c = await node("gamma");
    // Everyone learns of everyone (beta hears of gamma from alpha's member list).
    for (const on of ["alpha", "beta", "gamma"]) {
        let last: ClusterViewState | null = null;
        await until(`${on} lists three members`, async () => members(last = await peers(on)).join() === "alpha,beta,gamma")
            .catch((e: Error) => { throw new Error(`${e.message}: ${JSON.stringify(last?.peers.map((p) => [p.name, p.state, p.address]))}`); });
    }
    const view = await peers("beta");
    assert.equal(view.peers[0]!.relation, "self");
    assert.equal(new Set(view.peers.map((p) => p.nodeId)).size, 3);
    for (const p of view.peers) assert.match(p.address ?? "", /^127\.0\.0\.1:\d+$/, `${p.name} has an address`);
    // Each member's inventory, served by its GetInfo: OS, CPU, memory, backend; the speed test is off in these nodes.
    await until("beta has every member's inventory", async () => (await peers("beta")).peers.every((p) => p.inventory != null));
    for (const p of (await peers("beta")).peers) {
        const inv = p.inventory!;
        assert.match(inv.os, /^linux /, p.name);
        assert.ok(inv.cpu.threads >= 1 && inv.cpu.model !== "", `${p.name}: ${JSON.stringify(inv.cpu)}`);
        assert.ok(inv.ramTotalBytes > 1e8 && inv.ramFreeBytes > 0 && inv.ramFreeBytes <= inv.ramTotalBytes, p.name);
        assert.equal(inv.backend, "cpu");
        assert.equal(inv.speed.status, "off");
    }
    const table = await hearth(["peers", "--data-dir", dataDir("beta")]);
    assert.match(table.stdout, /NAME +STATE +ADDRESS/);
    assert.match(table.stdout, /beta \(this machine\) +member/);
    // A code that expired: a node whose codes live 1.2 s.
    const d = await node("delta-expiring", ["--invite-minutes", "0.02"]);
    const short = await invite("delta-expiring");
    await new Promise((r) => setTimeout(r, 1500));
    const expired = await hearth(["join", short, "--peer", d.address, "--data-dir", dataDir("epsilon")]);
    assert.equal(expired.code, 1);
    assert.match(expired.stderr, /this join code has expired \(a code can be used for 0 minutes\); make a new code on the inviting machine|this join code has expired/);
    // Already a member: joining again is refused.
    const again = await hearth(["join", await invite("alpha"), "--peer", a.address, "--data-dir", dataDir("beta")]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already a member of a cluster: run 'hearth leave' first/);
    // No address and nothing heard on the LAN: says what to type.
    const lonely = await hearth(["join", "7KQ2-M9XD-4HPW-3TRN", "--data-dir", dataDir("zeta"), "--interface", "127.0.0.1"], 30000);
    assert.equal(lonely.code, 1);
    assert.match(lonely.stderr, /no machines found in 10 s: add the inviting machine by address with 'hearth join CODE --peer HOST:PORT'/);
    // Nothing answers at the address: a firewall, or no Hearth there.
    const port = await new Promise<number>((resolve) => { const s = net.createServer(); s.listen(0, "127.0.0.1", () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); }); });
    const nobody = await hearth(["join", "7KQ2-M9XD-4HPW-3TRN", "--peer", `127.0.0.1:${port}`, "--data-dir", dataDir("zeta")]);
    assert.equal(nobody.code, 1);
    assert.match(nobody.stderr, new RegExp(`cannot reach a Hearth node at 127\\.0\\.0\\.1:${port} .*no firewall blocks TCP port ${port}`));
    // An option that cannot work is refused before anything is made.
    const badOption = await hearth(["node", "--invite-minutes", "soon", "--data-dir", dataDir("never-made"), "--no-discovery", "--no-speed-test"]);
    assert.equal(badOption.code, 2);
    assert.match(badOption.stderr, /--invite-minutes must be a number of minutes/);
    assert.equal(fs.existsSync(dataDir("never-made")), false, "no cluster was made for a command that was refused");
    void b; void c;
});

test("20 wrong codes in a row cancel every open code; a code never hands over the id of a machine already in", { timeout: 60000 }, async () => {
    const k = await node("kappa");
    const real = await invite("kappa");
    const identity = loadOrCreateNodeIdentity(dataDir("kappa-guesser"));
    for (let i = 0; i < 20; i++)
        await assert.rejects(joinThrough(k.address, `7KQ2-M9XD-4HPW-${String(i).padStart(4, "0")}`, { identity, name: "guesser" }), (e: unknown) => e instanceof JoinRefusedError && e.reason === "wrongCode");
    await assert.rejects(joinThrough(k.address, real, { identity, name: "late" }), (e: unknown) => e instanceof JoinRefusedError && e.reason === "expiredCode" && /make a new code/.test((e as Error).message));
    const fresh = await invite("kappa");
    // A code holder cannot take over the id of a machine already in (with a key of its own).
    const kappaId = loadNodeCluster(dataDir("kappa"))!.identity.nodeId;
    const impostor = { ...loadOrCreateNodeIdentity(dataDir("kappa-impostor")), nodeId: kappaId };
    await assert.rejects(joinThrough(k.address, fresh, { identity: impostor, name: "kappa" }),
        (e: unknown) => e instanceof JoinRefusedError && e.reason === "badRequest" && /is already a member of this cluster/.test((e as Error).message));
    const { result } = await joinThrough(k.address, fresh, { identity, name: "late" });
    assert.equal(result.members.length, 2, "the code was not used up by the refused request, and works");
});

test("remove and leave revoke: the removed machine is refused on every method by every member; a machine of another cluster gets no handshake", { timeout: 120000 }, async () => {
    const [a, b, c] = ["alpha", "beta", "gamma"].map((name) => running.find((n) => n.name === name)!);
    assert.ok(a != null && b != null && c != null, "the members of the first test run");
    // The members answer gamma while it is one.
    const asGamma = (to: NodeProcess) => new NodeClient(to.address, { cluster: credentialsOf("gamma") });
    const before = asGamma(b);
    assert.equal((await before.health()).serving, true);
    before.close();
    const removed = await hearth(["remove", "gamma", "--data-dir", dataDir("alpha")]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /removed 'gamma' from the cluster/);
    // gamma is told, and stops.
    await until("gamma stops", () => c.child.exitCode != null, 15000);
    assert.match(c.log.join(""), /this node was removed from its cluster and stopped: run 'hearth leave'/);
    for (const to of [a, b]) {
        await until(`${to.name} refuses gamma`, async () => {
            const client = asGamma(to);
            try { return (await everyMethod(client)).Health === grpc.status.PERMISSION_DENIED; } finally { client.close(); }
        });
        const client = asGamma(to);
        const codes = await everyMethod(client);
        client.close();
        for (const [method, code] of Object.entries(codes)) assert.equal(code, grpc.status.PERMISSION_DENIED, `${to.name} refuses gamma's ${method}`);
    }
    // A machine of another cluster: its certificate is not of this CA, so there is no handshake at all.
    const other = await createNodeCluster(dataDir("neighbour"), { nodeName: "neighbour" });
    const foreign = new NodeClient(a.address, { cluster: other });
    const codes = await everyMethod(foreign);
    for (const [method, code] of Object.entries(codes)) assert.equal(code, grpc.status.UNAVAILABLE, `a foreign machine's ${method} gets no connection`);
    await assert.rejects(foreign.connect(5000), /node 'alpha' at 127\.0\.0\.1:\d+ is a member of another cluster/);
    foreign.close();
    // beta leaves: it forgets the cluster, and alpha refuses it from then on.
    const credentials = credentialsOf("beta");
    await stopNode(b);
    const left = await hearth(["leave", "--data-dir", dataDir("beta")]);
    assert.equal(left.code, 0, left.stderr);
    assert.match(left.stdout, /left the cluster \(1 member told/);
    assert.equal(loadNodeCluster(dataDir("beta")), null);
    const exMember = new NodeClient(a.address, { cluster: credentials });
    await assert.rejects(exMember.health(5000), (e: grpc.ServiceError) => e.code === grpc.status.PERMISSION_DENIED && /was removed from the cluster; join it again with a new code/.test(e.details));
    exMember.close();
    assert.deepEqual(members(await peers("alpha")), ["alpha"]);
});

test("a generation between two members over mutual TLS: node-llama-cpp's greedy tokens, and neither the prompt nor the activations on the wire", { skip: captureUnavailableReason() ?? false, timeout: 180000 }, async () => {
    const model = await buildModel(dir, "wire", { arch: "llama", vocab: "llama-spm", layers: 4, type: "f32", tied: false, ...SMALL });
    const code = await invite("alpha");
    const joinedCoordinator = await hearth(["join", code, "--peer", running.find((n) => n.name === "alpha")!.address, "--data-dir", dataDir("coordinator"), "--name", "coordinator"]);
    assert.equal(joinedCoordinator.code, 0, joinedCoordinator.stderr);
    const code2 = await invite("alpha");
    const a = running.find((n) => n.name === "alpha")!;
    const e = await node("eta", ["--join", code2, "--peer", a.address]);
    const coordinator = loadNodeCluster(dataDir("coordinator"))!;
    await until("the coordinator's member list has eta", async () => {
        await new NodeClient(a.address, { cluster: coordinator }).syncMembers(coordinator.members.entries()).then((entries) => coordinator.members.merge(entries));
        return coordinator.members.list().some((m) => m.name === "eta");
    });
    const promptText = "The secret recipe for the village bread is";
    const tok = await Tokenizer.load(model);
    const prompt = tok.encode(promptText);
    await tok.dispose();
    // What would cross in clear: the hidden states stage 0 (layers 0-2) sends for the prompt.
    const first = await StageRuntime.load((await sliceStage(model, { start: 0, end: 2 }, path.join(dir, "wire-0-2.gguf"))).path, { contextSize: 128, maxSequences: 1 });
    const hidden = Buffer.from((await first.forward({ seqId: 0, pos: 0, tokens: Int32Array.from(prompt) })).hidden!.buffer);
    await first.dispose();
    // A control: the same bytes sent in clear on a captured port are found, so the capture would see them.
    const control = net.createServer((s) => s.resume());
    await new Promise<void>((r) => control.listen(0, "127.0.0.1", () => r()));
    const controlPort = (control.address() as net.AddressInfo).port;
    const ports = [a, e].map((n) => Number(n.address.split(":")[1]));
    const capture = await startCapture({ ports: [...ports, controlPort] });
    let tokens: number[] = [];
    let result: Awaited<ReturnType<typeof capture.stop>>;
    try {
        const p = await connectPipeline({ modelPath: model, peers: [a.address, e.address], layers: [{ start: 0, end: 2 }, { start: 2, end: 4 }], cluster: coordinator, dataDir: dataDir("coordinator-cache"), stage: { contextSize: 128, maxSequences: 1 } });
        try {
            tokens = (await generate(p, { promptTokens: prompt, maxTokens: 8, sampler: { temperature: 0 } }).result).tokens;
        } finally {
            await p.dispose();
        }
        await new Promise<void>((resolve, reject) => {
            const s = net.connect(controlPort, "127.0.0.1", () => s.end(Buffer.concat([Buffer.from(promptText), hidden]), () => resolve()));
            s.on("error", reject);
        });
        await new Promise((r) => setTimeout(r, 300));
    } finally {
        result = await capture.stop();
        control.close();
    }
    assert.deepEqual(tokens, await referenceGreedy(model, prompt, 8, { contextSize: 128 }), "tokens over mTLS are node-llama-cpp's");
    assert.equal(result.drops, 0, "the capture dropped nothing");
    const control64 = hidden.subarray(0, 64);
    const onlyControl = (needle: Buffer) => result.streams.filter((s) => s.data.includes(needle)).every((s) => s.destinationPort === controlPort || s.sourcePort === controlPort);
    assert.ok(result.contains(Buffer.from(promptText)) && result.contains(control64), "the control shows the capture sees these bytes in clear");
    const pipelineBytes = result.streams.filter((s) => s.destinationPort !== controlPort && s.sourcePort !== controlPort).reduce((n, s) => n + s.data.length, 0);
    assert.ok(pipelineBytes > hidden.length, `the pipeline's traffic was captured (${pipelineBytes} bytes)`);
    assert.ok(onlyControl(Buffer.from(promptText)), "the prompt text is not on the pipeline's wire");
    assert.ok(onlyControl(Buffer.from(promptText.slice(0, 12))), "not even a part of it");
    for (let off = 0; off + 32 <= hidden.length; off += 256) assert.ok(onlyControl(hidden.subarray(off, off + 32)), `activation bytes at ${off} are not on the wire`);
    // The token ids as protobuf writes them (packed varints) in the first stage's message.
    const varints = Buffer.from(prompt.flatMap((t) => { const out: number[] = []; let v = t >>> 0; while (v > 127) { out.push((v & 127) | 128); v >>>= 7; } out.push(v); return out; }));
    assert.ok(varints.length >= 8 && !result.contains(varints), "the prompt's token ids are not on the wire");
    // With the machine that holds the cluster's keys off, a member's invite says so and what to do.
    await stopNode(a);
    const noCa = await hearth(["invite", "--data-dir", dataDir("eta")]);
    assert.equal(noCa.code, 1);
    assert.match(noCa.stderr, /only the machine that created the cluster \('alpha's cluster'\) can add machines, and no member holding its keys answered .*start that machine, then try again/);
});
