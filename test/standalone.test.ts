// Policy as pure functions, tested without processes or models: the batch scheduler, the
// sequence pool, the text stream, stage and sampler options, placement by memory, the event fold,
// and the generated protocol types.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { groupLimit, pickBatch, type SchedulableStep } from "../app/stage/batch-scheduler.ts";
import { SequencePool } from "../app/engine/sequence-pool.ts";
import { TextStream, type Detokenizer } from "../app/engine/text-stream.ts";
import { resolveStageOptions, STAGE_OPTION_DEFAULTS } from "../app/stage/options.ts";
import { resolveSampler } from "../app/stage/sampler.ts";
import { rangesByMemory } from "../app/placement/ranges.ts";
import { EventHub } from "../app/util/event-hub.ts";
import { applyNodeEvent, initialNodeState, type NodeEvent } from "../app/node/events.ts";
import { defaultPromptChunk, generate } from "../app/engine/generate.ts";
import type { Pipeline } from "../app/engine/pipeline.ts";
import { applyPipelineEvent, initialPipelineState } from "../app/engine/pipeline-events.ts";
import { createNodeCluster, loadNodeCluster } from "../app/cluster/node-cluster.ts";
import { MemoryLedger } from "../app/node/resources.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const step = (seqId: number, nTokens = 1, tag = ""): SchedulableStep & { tag: string } => ({ seqId, nTokens, tag });

describe("batch scheduler", () => {
    const exact = { batchSize: 512, batchesExactly: true, maxGroup: 8 };
    test("the oldest step always runs; steps of one sequence keep their order", () => {
        const pending = [step(2, 1, "2a"), step(2, 1, "2b"), step(3, 1, "3a")];
        assert.deepEqual(pickBatch(pending, exact).map((s) => s.tag), ["2a", "3a"], "one step per sequence, the oldest first");
        assert.deepEqual(pickBatch([], exact), []);
    });
    test("a prompt chunk runs alone, and single-token steps waiting behind it run next, together", () => {
        const pending = [step(0, 64, "prompt"), step(1, 1, "1"), step(2, 1, "2")];
        assert.deepEqual(pickBatch(pending, exact).map((s) => s.tag), ["prompt"]);
        assert.deepEqual(pickBatch(pending.slice(1), exact).map((s) => s.tag), ["1", "2"]);
        // A prompt waiting behind single-token steps does not join them, and is not overtaken twice.
        assert.deepEqual(pickBatch([step(1, 1, "1"), step(0, 64, "prompt"), step(2, 1, "2")], exact).map((s) => s.tag), ["1", "2"]);
        assert.deepEqual(pickBatch([step(0, 64, "prompt"), step(1, 1, "1")], exact).map((s) => s.tag), ["prompt"]);
    });
    test("only sequences whose ids extend a consecutive run with the oldest share its batch (llama.cpp's ubatch rule)", () => {
        assert.deepEqual(pickBatch([step(1), step(5), step(2), step(0)], exact).map((s) => s.seqId), [1, 2, 0]);
        assert.deepEqual(pickBatch([step(4), step(6), step(9)], exact).map((s) => s.seqId), [4]);
    });
    test("group limits keep every stage of a pipeline busy; inexact stages never batch", () => {
        assert.equal(groupLimit(4, 2), 2);
        assert.equal(groupLimit(3, 3), 1);
        assert.equal(groupLimit(5, 1), 5);
        assert.equal(groupLimit(0, 2), 1);
        const four = [step(0), step(1), step(2), step(3)];
        assert.deepEqual(pickBatch(four, { ...exact, maxGroup: 2 }).map((s) => s.seqId), [0, 1]);
        assert.deepEqual(pickBatch(four, { ...exact, batchesExactly: false }).map((s) => s.seqId), [0]);
        assert.deepEqual(pickBatch(four, { ...exact, batchSize: 3 }).map((s) => s.seqId), [0, 1, 2]);
    });
    test("a failed sequence's steps removed from the queue leave the others going (no starvation over many rounds)", () => {
        let pending = Array.from({ length: 12 }, (_, i) => step(i % 3, 1, `${i % 3}:${Math.floor(i / 3)}`));
        pending = pending.filter((s) => s.seqId !== 1); // sequence 1 failed
        const order: string[] = [];
        while (pending.length > 0) {
            const batch = pickBatch(pending, { ...exact, maxGroup: 1 });
            order.push(...batch.map((s) => s.tag));
            pending = pending.filter((s) => !batch.includes(s));
        }
        assert.deepEqual(order, ["0:0", "2:0", "0:1", "2:1", "0:2", "2:2", "0:3", "2:3"]);
    });
});

describe("sequence pool", () => {
    test("lowest free slot first, a new epoch each time, waiters served in order", async () => {
        const pool = new SequencePool(2);
        const a = await pool.acquire();
        const b = await pool.acquire();
        assert.deepEqual([a.seqId, a.epoch, b.seqId, b.epoch], [0, 1, 1, 1]);
        const waiting = pool.acquire();
        a.release();
        a.release(); // twice is harmless
        const c = await waiting;
        assert.deepEqual([c.seqId, c.epoch], [0, 2]);
        assert.equal(pool.freeCount, 0);
        c.release();
        b.release();
        assert.equal((await pool.acquire()).seqId, 0);
    });
    test("waiting honours an AbortSignal; closing rejects every waiter and later acquire", async () => {
        const pool = new SequencePool(1);
        await pool.acquire();
        const controller = new AbortController();
        const aborted = pool.acquire(controller.signal);
        controller.abort(new Error("user left"));
        await assert.rejects(aborted, /user left/);
        const queued = [pool.acquire(), pool.acquire()];
        pool.close(new Error("node 'x' is gone"));
        for (const q of queued) await assert.rejects(q, /node 'x' is gone/);
        await assert.rejects(pool.acquire(), /node 'x' is gone/);
        assert.equal(pool.waitingCount, 0);
    });
});

describe("text stream", () => {
    // A toy detokenizer: token t is the t-th piece; pieces 90-91 are the two bytes of "é".
    const pieces: Record<number, string> = { 1: "Hello", 2: ",", 3: " wor", 4: "ld", 5: " STOP", 6: " here", 7: "!" };
    const detok: Detokenizer = {
        detokenize(tokens) {
            const bytes = tokens.map((t) => (t === 90 || t === 91 ? t : -1));
            if (bytes.includes(90) && !bytes.includes(91)) return "\uFFFD";
            return tokens.map((t) => (t === 90 ? "é" : t === 91 ? "" : pieces[t] ?? "?")).join("");
        }
    };
    test("text arrives token by token; a split character waits for its second half", () => {
        const s = new TextStream(detok);
        assert.deepEqual([1, 2, 90].map((t) => s.push(t).text), ["Hello", ",", ""]);
        assert.equal(s.push(91).text, "é");
        assert.equal(s.text, "Hello,é");
    });
    test("a stop string ends the text right before it, even across tokens; held-back text comes out at the end", () => {
        const s = new TextStream(detok, [" STOP"]);
        const out: string[] = [];
        for (const t of [1, 3, 4]) out.push(s.push(t).text);
        const last = s.push(5);
        assert.equal(last.stop, " STOP");
        assert.equal(out.join("") + last.text, "Hello world");
        assert.equal(s.text, "Hello world");
        const t = new TextStream(detok, ["!!"]);
        assert.equal(t.push(1).text + t.push(7).text, "Hello", "a possible stop string start is held back");
        assert.equal(t.finish(), "!");
    });
});

describe("options", () => {
    test("one definition of stage options: defaults, limits and a clear error naming the option", () => {
        assert.deepEqual(resolveStageOptions(), { ...STAGE_OPTION_DEFAULTS });
        assert.equal(STAGE_OPTION_DEFAULTS.flashAttention, "auto", "as node-llama-cpp");
        assert.throws(() => resolveStageOptions({ batchSize: 0 }), /batchSize must be an integer from 1 to 8192/);
        assert.throws(() => resolveStageOptions({ threads: 1.5 }), /threads must be an integer/);
        assert.throws(() => resolveStageOptions({ flashAttention: true as never }), /flashAttention must be "auto", "on" or "off"/);
        assert.throws(() => resolveStageOptions({ contextSize: 1 << 20, maxSequences: 256 }), /KV cells is over the limit/);
    });
    test("sampler parameters are bounded; the seed is random unless given", () => {
        assert.throws(() => resolveSampler({ repeatLastN: 2 ** 31 - 1 }), /repeatLastN must be an integer from 0 to 8192/);
        assert.throws(() => resolveSampler({ topK: -1 }), /topK must be/);
        assert.throws(() => resolveSampler({ temperature: NaN }), /temperature must be a number/);
        assert.equal(resolveSampler({ seed: 7 }).seed, 7);
        const seeds = new Set(Array.from({ length: 8 }, () => resolveSampler().seed));
        assert.ok(seeds.size > 1, "random seeds differ");
    });
    test("prompt chunks: the whole batch on one stage, smaller chunks so that several stages overlap", () => {
        assert.equal(defaultPromptChunk(1024, 1, 512), 512);
        assert.equal(defaultPromptChunk(1024, 2, 512), 64);
        assert.equal(defaultPromptChunk(20, 3, 512), 32);
        assert.equal(defaultPromptChunk(100000, 2, 512), 512);
    });
});

describe("placement by memory", () => {
    const layers = new Array(12).fill(100);
    test("layers follow free memory, every node gets at least one, and the ranges tile the model", () => {
        assert.deepEqual(rangesByMemory(layers, [{ name: "a", freeBytes: 600 }, { name: "b", freeBytes: 300 }, { name: "c", freeBytes: 300 }]).map((r) => r.end - r.start), [6, 3, 3]);
        assert.deepEqual(rangesByMemory(layers, [{ name: "a", freeBytes: 1e9 }, { name: "b", freeBytes: 200 }]).map((r) => [r.start, r.end]), [[0, 11], [11, 12]]);
    });
    test("a split that cannot fit names the node and the shortfall", () => {
        assert.throws(() => rangesByMemory(layers, [{ name: "mac-mini", freeBytes: 500 }, { name: "pc", freeBytes: 500 }]), /node 'mac-mini' has 500 bytes free but layers 0-6 need 600/);
        assert.throws(() => rangesByMemory([100], [{ name: "a", freeBytes: 1e9 }, { name: "b", freeBytes: 1e9 }]), /2 nodes but only 1 layers/);
    });
    test("a model that splits only at some layers: the boundaries move to the nearest allowed ones, and the memory is checked again", () => {
        // 7, 3, 2 layers by memory; split only at even layers: 0-6 (nearest to 7), 6-10, 10-12
        const nodes = [{ name: "a", freeBytes: 1000 }, { name: "b", freeBytes: 400 }, { name: "c", freeBytes: 300 }];
        assert.deepEqual(rangesByMemory(layers, nodes).map((r) => [r.start, r.end]), [[0, 7], [7, 10], [10, 12]]);
        assert.deepEqual(rangesByMemory(layers, nodes, [2, 4, 6, 8, 10]).map((r) => [r.start, r.end]), [[0, 6], [6, 10], [10, 12]]);
        // only 4 and 8: 0-4 4-8 8-12, which fits
        const big = [{ name: "a", freeBytes: 1e9 }, { name: "b", freeBytes: 1e9 }, { name: "c", freeBytes: 1e9 }];
        assert.deepEqual(rangesByMemory(layers, big, [4, 8]).map((r) => [r.start, r.end]), [[0, 4], [4, 8], [8, 12]]);
        assert.throws(() => rangesByMemory(layers, big, [6]), /can be split only at layers 6, so it runs on at most 2 nodes/);
        // split only at 9: a must take 0-9, more than it has
        assert.throws(() => rangesByMemory(layers, [{ name: "a", freeBytes: 700 }, { name: "b", freeBytes: 500 }], [9]), /node 'a' has 700 bytes free but layers 0-9 need 900 \(this model splits only at layers 9\)/);
    });
});

describe("events", () => {
    test("subscribers get the state first, then each change; the state is the fold of the events", () => {
        const hub = new EventHub(initialNodeState("n"), applyNodeEvent);
        const seen: Array<{ type: string }> = [];
        hub.subscribe((m) => seen.push(m));
        const events: NodeEvent[] = [
            { type: "started", name: "n", port: 7 },
            { type: "uploadProgress", stageSha256: "s", bytesDone: 5, bytesTotal: 10 },
            { type: "uploadFinished", stageSha256: "s", bytes: 10 },
            { type: "stageLoaded", pipelineId: "p", stageIndex: 0, layers: [0, 2], loadMs: 1, memoryBytes: 99 },
            { type: "stageHeld", pipelineId: "p", stageIndex: 0, holders: 1 }
        ];
        for (const e of events) hub.emit(e);
        assert.deepEqual(seen.map((m) => m.type), ["state", ...events.map((e) => e.type)]);
        assert.deepEqual(hub.state.stages, [{ pipelineId: "p", stageIndex: 0, layers: [0, 2], memoryBytes: 99, holders: 1 }]);
        assert.deepEqual(hub.state.uploads, []);
        let late: { type: string; state?: unknown } | null = null;
        hub.subscribe((m) => { late ??= m; });
        assert.equal(late!.type, "state", "a late subscriber starts from the current state");
        hub.subscribe(() => { throw new Error("a broken listener"); });
        hub.emit({ type: "pipelineClosed", pipelineId: "p", stageIndex: 0, reason: "test" });
        assert.deepEqual(hub.state.stages, [], "a throwing listener does not stop the emitter");
    });
});

test("the committed protocol types are what the generator makes from the .proto (they cannot drift)", { timeout: 60000 }, () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-proto-"));
    try {
        execFileSync(process.execPath, [path.join(root, "scripts", "gen-proto-types.mjs"), out]);
        const committed = path.join(root, "app", "protocol", "generated");
        const files = (d: string) => fs.readdirSync(d, { recursive: true }).map(String).filter((f) => f.endsWith(".ts")).sort();
        assert.deepEqual(files(out), files(committed));
        for (const f of files(out)) assert.equal(fs.readFileSync(path.join(out, f), "utf8"), fs.readFileSync(path.join(committed, f), "utf8"), f);
    } finally {
        fs.rmSync(out, { recursive: true, force: true });
    }
});

describe("generation loop on a stand-in pipeline", () => {
    // A pipeline whose steps answer from a script: sequence 0 gets tokens, sequence 1's steps never come back.
    function standIn(): Pipeline & { released: Array<[number, number]> } {
        const pool = new SequencePool(2);
        const released: Array<[number, number]> = [];
        return {
            shape: { stageCount: 2, maxSequences: 2, contextSize: 64, batchSize: 8 }, sequences: pool, stageNames: ["a", "b"], failure: null, released,
            events: new EventHub(initialPipelineState(), applyPipelineEvent),
            step: (r) => r.seqId === 1 ? new Promise(() => {}) : Promise.resolve({ token: 5 + r.pos, stageMs: [0.1, 0.2] }),
            release: async (seqId, epoch) => { released.push([seqId, epoch]); },
            dispose: async () => {}
        };
    }
    test("a late step fails its sequence only, within a limit that grows with the step's tokens; the slot is released", { timeout: 10000 }, async () => {
        const p = standIn();
        const ok = generate(p, { promptTokens: [1, 2, 3], maxTokens: 4 }, { stepTimeout: { baseMs: 200, perTokenMs: 10 } });
        const stuck = generate(p, { promptTokens: [1, 2, 3], maxTokens: 4 }, { stepTimeout: { baseMs: 200, perTokenMs: 10 } });
        const [a, b] = await Promise.all([ok.result, stuck.result]);
        assert.equal(a.stopReason, "maxTokens");
        assert.deepEqual(a.tokens, [5, 8, 9, 10], "the prompt's step, then one step per token");
        assert.equal(b.stopReason, "failed");
        assert.match(b.error!.message, /no answer for a step of 3 token\(s\) within 0\.2 s/);
        assert.deepEqual(p.released.map(([s]) => s).sort(), [0, 1], "both sequences were released");
        assert.equal(p.sequences.freeCount, 2);
    });
    test("abort while waiting for a slot or a step ends the generation as aborted; maxTokens 0 generates nothing", { timeout: 10000 }, async () => {
        const p = standIn();
        const stuck: Pipeline = { ...p, step: () => new Promise(() => {}) };
        const [a, b] = [generate(stuck, { promptTokens: [1], maxTokens: 5 }), generate(stuck, { promptTokens: [1], maxTokens: 5 })];
        const controller = new AbortController();
        const queued = generate(stuck, { promptTokens: [1], maxTokens: 3, signal: controller.signal });
        await new Promise((r) => setTimeout(r, 20));
        controller.abort();
        assert.equal((await queued.result).stopReason, "aborted", "aborted while waiting for a slot");
        a.abort();
        b.abort();
        assert.deepEqual([(await a.result).stopReason, (await b.result).stopReason], ["aborted", "aborted"], "aborted while waiting for a step");
        assert.equal((await generate(p, { promptTokens: [1], maxTokens: 0 }).result).tokens.length, 0);
        assert.throws(() => generate(p, { promptTokens: [], maxTokens: 1 }), /the prompt has no tokens/);
        assert.throws(() => generate(p, { promptTokens: new Array(64).fill(1), maxTokens: 1 }), /the prompt has 64 tokens, but the context holds 64/);
    });
});

describe("node resources", () => {
    test("a data dir of an older Hearth (a cluster-key file) is refused with what to do; a new cluster's files are kept 0600", async () => {
        const d = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-key-"));
        try {
            fs.writeFileSync(path.join(d, "cluster-key"), "5eed".repeat(8));
            assert.throws(() => loadNodeCluster(d), /cluster key of an older Hearth.*Delete that file, then start this node with --create-cluster/);
            await assert.rejects(createNodeCluster(d, { nodeName: "n" }), /cluster key of an older Hearth/);
            fs.rmSync(path.join(d, "cluster-key"));
            assert.equal(loadNodeCluster(d), null, "no cluster yet");
            const made = await createNodeCluster(d, { nodeName: "n" });
            for (const f of ["node-identity.json", "membership.json", "members.json", "cluster/ca.key.pem"])
                assert.equal(fs.statSync(path.join(d, f)).mode & 0o777, 0o600, f);
            const again = loadNodeCluster(d)!;
            assert.equal(again.membership.clusterId, made.membership.clusterId);
            assert.equal(again.identity.nodeId, made.identity.nodeId);
            assert.ok(again.authority != null, "the CA is kept on the node that made the cluster");
            await assert.rejects(createNodeCluster(d, { nodeName: "n" }), /already a member of a cluster .*'hearth leave' first/);
        } finally {
            fs.rmSync(d, { recursive: true, force: true });
        }
    });
    test("memory reservations are taken at once: two stages can never both take the same bytes", () => {
        const ledger = new MemoryLedger({ limitBytes: 1000 });
        const a = ledger.tryReserve(600, "a");
        assert.ok(a != null);
        assert.equal(ledger.tryReserve(600, "b"), null, "the second does not fit while the first holds its bytes");
        assert.deepEqual(ledger.snapshot(), { totalBytes: 1000, freeBytes: 400, reservedBytes: 600, gpuTotalBytes: 0, gpuFreeBytes: 0, gpuReservedBytes: 0, unified: false });
        assert.equal(ledger.tryReserve(10, "gpu", 1), null, "no GPU memory before a GPU is seen: a stage with GPU layers is refused");
        a.release();
        a.release();
        assert.ok(ledger.tryReserve(600, "b") != null);
        assert.equal(ledger.tryReserve(-1, "c"), null);
    });
});
