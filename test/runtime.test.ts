// The stage runtime validates every request, answers bad ones with a clear error, keeps serving,
// and computes off the JS thread.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { StageInputError, StageRuntime } from "../app/stage/runtime.ts";
import { sliceStage } from "../app/stage/slice.ts";
import { SMALL, buildModel, tempDir } from "./helpers/models.ts";

const dir = tempDir("runtime");
let first: StageRuntime;
let middle: StageRuntime;
let last: StageRuntime;

before(async () => {
    const model = await buildModel(dir, "rt", { arch: "llama", vocab: "llama-spm", layers: 3, type: "f32", tied: false, ...SMALL });
    const opts = { threads: 2, contextSize: 64, batchSize: 32, maxSequences: 2, flashAttention: "off" as const };
    first = await StageRuntime.load((await sliceStage(model, { start: 0, end: 1 }, path.join(dir, "a.gguf"))).path, opts);
    middle = await StageRuntime.load((await sliceStage(model, { start: 1, end: 2 }, path.join(dir, "b.gguf"))).path, opts);
    last = await StageRuntime.load((await sliceStage(model, { start: 2, end: 3 }, path.join(dir, "c.gguf"))).path, opts);
});
after(async () => {
    await Promise.all([first, middle, last].map((s) => s?.dispose()));
    fs.rmSync(dir, { recursive: true, force: true });
});

const hidden = (rows: number, fill = 0.1) => new Float32Array(rows * 64).fill(fill);

test("stages know their role and shape", () => {
    assert.deepEqual([first.first, first.last, middle.first, middle.last, last.first, last.last], [true, false, false, false, false, true]);
    assert.deepEqual([first.nEmbd, first.inputVocab, last.nVocab], [64, 32000, 32000]);
    assert.deepEqual(middle.range, { start: 1, end: 2 });
});

test("bad requests are refused with StageInputError and the stage keeps serving", async () => {
    const bad: Array<[StageRuntime, Parameters<StageRuntime["forward"]>[0], RegExp]> = [
        [middle, { seqId: 0, pos: 0, hidden: new Float32Array(100) }, /not a whole number of 64-wide rows/],
        [middle, { seqId: 5, pos: 0, hidden: hidden(1) }, /sequence id 5 is out of range: this stage holds sequences 0-1/],
        [middle, { seqId: -1, pos: 0, hidden: hidden(1) }, /sequence id -1 is out of range/],
        [middle, { seqId: 0, pos: 3, hidden: hidden(1) }, /position 3 for sequence 0 does not follow its cache: the next position is 0/],
        [middle, { seqId: 0, pos: 0, tokens: Int32Array.of(1) }, /takes hidden states, not token ids/],
        [first, { seqId: 0, pos: 0, hidden: hidden(1) }, /first stage: it takes token ids/],
        [first, { seqId: 0, pos: 0, tokens: Int32Array.of(1, 32000) }, /token id 32000 is out of range \[0, 32000\)/],
        [first, { seqId: 0, pos: 0, tokens: new Int32Array(0) }, /empty batch/],
        [first, { seqId: 0, pos: 0, tokens: new Int32Array(33) }, /batch of 33 tokens exceeds this stage's batch size 32/],
        [middle, { seqId: 0, pos: 0, hidden: hidden(1, NaN) }, /hidden state value 0 is not finite/],
        [middle, { seqId: 0, pos: 0, hidden: hidden(1), sample: true }, /not the last stage: it cannot sample/],
        [middle, { seqId: 0, pos: 0 }, /exactly one of tokens or hidden/]
    ];
    for (const [stage, req, message] of bad) {
        await assert.rejects(stage.forward(req), (e: Error) => e instanceof StageInputError && message.test(e.message), String(message));
    }
    // Still serving, and nothing was cached by the refused requests.
    const a = await first.forward({ seqId: 0, pos: 0, tokens: Int32Array.of(1, 2, 3) });
    assert.equal(a.hidden!.length, 3 * 64);
    const b = await middle.forward({ seqId: 0, pos: 0, hidden: a.hidden! });
    const c = await last.forward({ seqId: 0, pos: 0, hidden: b.hidden!, sample: true, logits: "all" });
    assert.equal(c.logits!.length, 3 * 32000);
    assert.ok(Number.isInteger(c.token));

    await assert.rejects(middle.forward({ seqId: 0, pos: 1, hidden: hidden(1) }), /positions may not go backwards/);
    await first.forward({ seqId: 0, pos: 3, tokens: new Int32Array(30).fill(5) });
    await first.forward({ seqId: 0, pos: 33, tokens: new Int32Array(30).fill(5) });
    await assert.rejects(first.forward({ seqId: 0, pos: 63, tokens: Int32Array.of(5, 5) }), /would reach 65 tokens, past the context size 64/);
    await assert.rejects(middle.truncate(0, 9), /cannot truncate sequence 0 at 9: it holds positions 0-2/);
    for (const s of [first, middle, last]) await s.removeSequence(0);
    assert.deepEqual((await middle.info()).sequences, []);
});

test("the native layer refuses malformed requests itself, without crashing", async () => {
    const native = (middle as unknown as { native: { forward(r: object): Promise<unknown> } }).native;
    const seg = (seqId: number, n: number) => ({ segments: [{ seqId, pos: 0, n }] });
    await assert.rejects(native.forward({ ...seg(0, 1), hidden: new Float32Array(65) }), /not a multiple of n_embd 64/);
    await assert.rejects(native.forward({ ...seg(9, 1), hidden: hidden(1) }), /sequence id 9 out of range/);
    await assert.rejects(native.forward({ ...seg(0, 2), hidden: hidden(1) }), /segments cover 2 tokens but the batch has 1/);
    await assert.rejects(native.forward({ segments: [{ seqId: 0, pos: 0, n: 1 }, { seqId: 0, pos: 1, n: 1 }], hidden: hidden(2) }), /a sequence appears twice/);
    assert.throws(() => native.forward({ ...seg(0, 1) }), /exactly one of tokens/);
    assert.throws(() => native.forward({ hidden: hidden(1) }), /forward needs segments/);
    const ok = await middle.forward({ seqId: 1, pos: 0, hidden: hidden(2) });
    assert.equal(ok.hidden!.length, 128);
    await middle.removeSequence(1);
});

test("a forward call computes off the JS thread: the event loop turns while it runs", { timeout: 60000 }, async () => {
    // setImmediate runs once per turn of the event loop. A forward computed on the JS thread would
    // resolve (in a microtask) before any turn, every time; one computed off it resolves on a later
    // turn — unless it finishes so fast that its answer is polled before the first turn's check
    // phase, which a loaded machine can make happen now and then. So: 20 forwards, at least one turn.
    const turnsDuring: number[] = [];
    for (let i = 0; i < 20 && !turnsDuring.some((t) => t > 0); i++) {
        let turns = 0;
        let spinning = true;
        const spin = () => { turns++; if (spinning) setImmediate(spin); };
        setImmediate(spin);
        try {
            await first.forward({ seqId: 0, pos: 0, tokens: new Int32Array(32).fill(7) }).then(() => { turnsDuring.push(turns); });
        } finally {
            spinning = false;
            await first.removeSequence(0);
        }
    }
    assert.ok(turnsDuring.some((t) => t > 0), `the event loop never turned while a forward was computing (${turnsDuring.join(", ")})`);
});

test("a disposed stage refuses work with a clear error", async () => {
    const model = path.join(dir, "rt.gguf");
    const s = await StageRuntime.load(model, { threads: 1, contextSize: 32 });
    await s.dispose();
    await assert.rejects(s.forward({ seqId: 0, pos: 0, tokens: Int32Array.of(1) }), /was disposed/);
});

test("sequences batched together give exactly what they give alone when the weights are quantized", async () => {
    for (const type of ["q4_0", "q8_0", "f32"] as const) {
        const model = await buildModel(dir, `batch-${type}`, { arch: "qwen2", vocab: "qwen2", layers: 2, type, tied: false, ...SMALL, embd: 128, ff: 256 });
        const stage = await StageRuntime.load(model, { threads: 2, contextSize: 64, maxSequences: 3, flashAttention: "off" });
        try {
            assert.equal(stage.batchesExactly, type !== "f32" && process.arch === "x64");
            const prompts = [Int32Array.of(1, 2, 3), Int32Array.of(40, 50), Int32Array.of(7, 8, 9, 10)];
            const alone: Float32Array[] = [];
            for (const [s, p] of prompts.entries()) {
                await stage.forward({ seqId: s, pos: 0, tokens: p });
                alone.push((await stage.forward({ seqId: s, pos: p.length, tokens: Int32Array.of(99), logits: "last" })).logits!);
                await stage.removeSequence(s);
            }
            for (const [s, p] of prompts.entries()) await stage.forward({ seqId: s, pos: 0, tokens: p });
            const together = await stage.forwardBatch(prompts.map((p, s) => ({ seqId: s, pos: p.length, tokens: Int32Array.of(99), logits: "last" as const })));
            const diffs = together.map((o, s) => o.logits!.reduce((m, v, i) => Math.max(m, Math.abs(v - alone[s]![i]!)), 0));
            // f32 weights are not batched (llama.cpp's f32 kernels change with the batch size); quantized ones must be bit-exact.
            if (stage.batchesExactly) assert.deepEqual(diffs, [0, 0, 0], type);
            await assert.rejects(stage.forwardBatch([{ seqId: 0, pos: 4, tokens: Int32Array.of(1) }, { seqId: 0, pos: 4, tokens: Int32Array.of(1) }]), /only once in a batch/);
        } finally {
            await stage.dispose();
        }
    }
});
