// The machine inventory (sane figures, state first then updates) and the speed profile (measured
// off the JS thread, cached by fingerprint, re-measured when it changes or the cache is damaged).
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { Inventory, speedHardwareOf, type InventoryEvent, type MachineInventory } from "../app/cluster/inventory.ts";
import { readSpeedBuild, readSpeedHardware, speedFingerprint, type SpeedHardware } from "../app/cluster/speed-fingerprint.ts";
import { speedLayerBytes, writeSpeedLayerStage, type SpeedLayerShape } from "../app/cluster/speed-layer-stage.ts";
import {
    DEFAULT_SPEED_SHAPES, loadOrMeasureSpeedProfile, measureSpeedProfile, speedProfileFile, speedStageLayers,
    type SpeedMeasureOptions, type SpeedProfile, type SpeedProgress
} from "../app/cluster/speed-profile.ts";
import { readGgufHeader } from "../app/gguf/reader.ts";
import { sliceStage } from "../app/stage/slice.ts";
import { StageRuntime } from "../app/stage/runtime.ts";
import type { StateMessage } from "../app/util/event-hub.ts";
import { buildModel, tempDir } from "./helpers/models.ts";

const dir = tempDir("inventory");
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const TINY: SpeedLayerShape[] = [
    { name: "tiny", embd: 256, ff: 512, heads: 4, kvHeads: 2, type: "q4_0" },
    { name: "tiny8", embd: 128, ff: 256, heads: 4, kvHeads: 4, type: "q8_0" }
];
/** Small and fast: a few MiB per stage. */
const FAST: SpeedMeasureOptions = { shapes: TINY, minStageBytes: 4 * 1024 * 1024, decodeSteps: 4, prefillRuns: 2, prefillTokens: 16, tempDir: dir };

function checkProfile(p: SpeedProfile, shapes: readonly SpeedLayerShape[]) {
    assert.equal(p.backend, "cpu");
    assert.equal(p.gpu, false);
    assert.ok(Number.isInteger(p.threads) && p.threads >= 1 && p.threads <= os.availableParallelism());
    assert.equal(p.layers.length, shapes.length);
    p.layers.forEach((l, i) => {
        assert.deepEqual(l.shape, shapes[i]);
        for (const ms of [l.decodeMsPerToken, l.prefillMsPerToken]) assert.ok(Number.isFinite(ms) && ms > 0 && ms < 10_000, `ms per token ${ms}`);
        assert.equal(l.layerBytes, speedLayerBytes(l.shape));
        assert.ok(l.stageLayers >= 1 && l.decodeSteps >= 3 && l.prefillRuns >= 1);
    });
    assert.match(p.fingerprint, /^[0-9a-f]{32}$/);
    assert.ok(p.measureMs > 0);
}

/** Temporary stage folders this test's measurements left behind in `dir`. */
const leftovers = () => fs.readdirSync(dir).filter((f) => f.startsWith("hearth-speed-"));

test("the inventory has sane figures, sends its state first and then updates, and stops on dispose", async () => {
    const inventory = await Inventory.start({ refreshMs: 50, measureSpeed: false });
    try {
        const s = inventory.snapshot;
        assert.ok(s.memory.totalBytes > 0 && s.memory.freeBytes >= 0 && s.memory.freeBytes <= s.memory.totalBytes);
        assert.equal(s.gpu.backend, "cpu");
        assert.ok(s.gpu.freeBytes <= s.gpu.totalBytes);
        assert.equal(s.gpu.unified, s.gpu.unifiedBytes > 0);
        assert.ok(Array.isArray(s.gpu.deviceNames));
        assert.ok(s.cpu.physicalCores >= 1 && s.cpu.logicalCores >= s.cpu.physicalCores);
        assert.ok(s.cpu.brand.length > 0);
        assert.equal(s.os.platform, os.platform());
        assert.ok(s.os.distro.length > 0 && s.os.release.length > 0);
        assert.deepEqual(s.speed, { status: "off", profile: null });
        assert.ok(s.takenAt > 0 && s.takenAt <= Date.now());

        const messages: Array<StateMessage<MachineInventory> | InventoryEvent> = [];
        const unsubscribe = inventory.events.subscribe((m) => messages.push(m));
        assert.equal(messages[0]?.type, "state");
        const refreshed = await inventory.refresh();
        assert.ok(refreshed.takenAt >= s.takenAt);
        await new Promise((r) => setTimeout(r, 200)); // the timer refreshes too
        unsubscribe();
        assert.ok(messages.length >= 3, `got ${messages.length} messages`);
        assert.ok(messages.slice(1).every((m) => m.type === "updated"));
        assert.deepEqual(inventory.snapshot.os, s.os);
    } finally {
        await inventory.dispose();
    }
    const seen: unknown[] = [];
    inventory.events.subscribe((m) => seen.push(m));
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(seen.length, 1, "no updates after dispose");
});

test("the inventory loads the speed profile in the background and reports it", async () => {
    const dataDir = path.join(dir, "inventory-data");
    const inventory = await Inventory.start({ dataDir, speed: FAST });
    try {
        assert.equal(inventory.snapshot.speed.status, "measuring");
        const speed = await inventory.speedSettled();
        assert.equal(speed.status, "ready", JSON.stringify(speed));
        checkProfile(speed.profile!, TINY);
        assert.ok(fs.existsSync(speedProfileFile(dataDir)));
        const build = readSpeedBuild();
        assert.equal(speed.profile!.fingerprint, speedFingerprint(speedHardwareOf(inventory.snapshot), build, { shapes: TINY, prefillTokens: 16 }));
    } finally {
        await inventory.dispose();
    }
});

test("disposing the inventory stops a measurement in progress and removes its files", async () => {
    const dataDir = path.join(dir, "dispose-data");
    const inventory = await Inventory.start({ dataDir, speed: { ...FAST, minStageBytes: 64 * 1024 * 1024 } });
    const seen: string[] = [];
    inventory.events.subscribe((m) => seen.push(m.type));
    await new Promise((r) => setTimeout(r, 20));
    await inventory.dispose();
    assert.equal(inventory.disposed, true);
    const count = seen.length;
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(seen.length, count, "no events after dispose");
    assert.deepEqual(leftovers(), []);
    assert.equal(fs.existsSync(speedProfileFile(dataDir)), false, "an aborted measurement is not cached");
});

test("the synthetic layer stage has the tensors and keys sliceStage gives a middle layer, and loads", async () => {
    const shape: SpeedLayerShape = { name: "cmp", embd: 128, ff: 256, heads: 4, kvHeads: 2, type: "q8_0" };
    const model = await buildModel(dir, "cmp", { arch: "llama", vocab: "llama-spm", layers: 4, tied: false, seed: 3, ...shape });
    const sliced = readGgufHeader((await sliceStage(model, { start: 1, end: 3 }, path.join(dir, "cmp-slice.gguf"))).path);
    const file = await writeSpeedLayerStage(shape, path.join(dir, "cmp-synth.gguf"), { layers: 2 });
    const synthetic = readGgufHeader(file.path);
    const tensors = (h: typeof sliced) => h.tensors.map((t) => `${t.name} ${t.dims.join("x")} ${t.type}`).sort();
    assert.deepEqual(tensors(synthetic), tensors(sliced));
    for (const key of sliced.kv.keys()) {
        if (key.startsWith("general.")) continue;
        assert.ok(synthetic.kv.has(key), `synthetic stage lacks ${key}`);
    }
    assert.equal(file.layerBytes, speedLayerBytes(shape));
    assert.equal(file.layers, 2);
    const stage = await StageRuntime.load(file.path, { threads: 1, contextSize: 32, batchSize: 8, maxSequences: 1 });
    try {
        assert.equal(stage.first, false);
        assert.equal(stage.last, false);
        const out = await stage.forward({ seqId: 0, pos: 0, hidden: new Float32Array(4 * 128).fill(0.1) });
        assert.ok(out.hidden != null && out.hidden.every(Number.isFinite));
    } finally {
        await stage.dispose();
    }
});

test("a speed profile is measured with the event loop free, and its temporary files are removed", async () => {
    let ticks = 0;
    let maxGap = 0;
    let last = performance.now();
    const timer = setInterval(() => { const now = performance.now(); maxGap = Math.max(maxGap, now - last); last = now; ticks++; }, 5);
    const progress: SpeedProgress[] = [];
    let profile: SpeedProfile;
    const started = performance.now();
    try {
        profile = await measureSpeedProfile({ ...FAST, minStageBytes: 24 * 1024 * 1024, onProgress: (p) => progress.push(p) });
    } finally {
        clearInterval(timer);
    }
    const elapsed = performance.now() - started;
    checkProfile(profile, TINY);
    assert.ok(profile.layers[0]!.stageLayers > 1, "the stage is grown to minStageBytes");
    assert.deepEqual(progress.map((p) => p.phase), ["writing", "measuring", "measured", "writing", "measuring", "measured"]);
    assert.deepEqual(leftovers(), []);
    // Sanity bounds only: a 5 ms timer must keep firing while llama.cpp computes.
    assert.ok(ticks >= Math.min(10, elapsed / 50), `the timer fired ${ticks} times in ${elapsed.toFixed(0)} ms`);
    assert.ok(maxGap < 1000, `the event loop was blocked for ${maxGap.toFixed(0)} ms`);
});

test("the profile is cached, re-measured when the fingerprint changes, and a damaged cache is replaced", async () => {
    const dataDir = path.join(dir, "cache-data");
    const hardware: SpeedHardware = await readSpeedHardware();
    let measured = 0;
    const options = (h: SpeedHardware): SpeedMeasureOptions => ({
        ...FAST, hardware: h, onProgress: (p) => { if (p.phase === "measuring") measured++; }
    });
    const first = await loadOrMeasureSpeedProfile(dataDir, options(hardware));
    assert.equal(measured, TINY.length);
    checkProfile(first, TINY);
    const file = speedProfileFile(dataDir);
    assert.deepEqual(JSON.parse(fs.readFileSync(file, "utf8")), JSON.parse(JSON.stringify(first)));
    assert.deepEqual(fs.readdirSync(dataDir), ["speed-profile.json"], "no temporary files are left");

    const again = await loadOrMeasureSpeedProfile(dataDir, options(hardware));
    assert.equal(measured, TINY.length, "the cached profile is used");
    assert.deepEqual(again, JSON.parse(JSON.stringify(first)));

    // Other hardware (here: more RAM, another GPU list), another fingerprint: measured again.
    const moved: SpeedHardware = { ...hardware, ramTotalBytes: hardware.ramTotalBytes + 8 * 1024 ** 3, gpuNames: ["Test GPU"] };
    const other = await loadOrMeasureSpeedProfile(dataDir, options(moved));
    assert.equal(measured, 2 * TINY.length);
    assert.notEqual(other.fingerprint, first.fingerprint);
    // A few MiB of RAM less is the same machine.
    await loadOrMeasureSpeedProfile(dataDir, options({ ...moved, ramTotalBytes: moved.ramTotalBytes - 3 * 1024 * 1024 }));
    assert.equal(measured, 2 * TINY.length);
    // Other shapes are another measurement too.
    await loadOrMeasureSpeedProfile(dataDir, { ...options(moved), shapes: TINY.slice(0, 1) });
    assert.equal(measured, 2 * TINY.length + 1);

    for (const damaged of ["{\"format\": 1, \"fingerp", "", "null", JSON.stringify({ ...first, layers: [{ shape: TINY[0], decodeMsPerToken: "fast" }] })]) {
        fs.writeFileSync(file, damaged);
        const before = measured;
        const replaced = await loadOrMeasureSpeedProfile(dataDir, options(hardware));
        assert.equal(measured, before + TINY.length, `re-measured after ${JSON.stringify(damaged.slice(0, 30))}`);
        checkProfile(replaced, TINY);
        assert.deepEqual(JSON.parse(fs.readFileSync(file, "utf8")), JSON.parse(JSON.stringify(replaced)));
    }
});

test("speed options and shapes are checked", async () => {
    assert.equal(speedStageLayers(100, 1000), 10);
    assert.equal(speedStageLayers(1000, 10), 1);
    assert.equal(speedStageLayers(1, 1e9), 64);
    await assert.rejects(measureSpeedProfile({ ...FAST, shapes: [] }), /shapes is empty/);
    await assert.rejects(measureSpeedProfile({ ...FAST, shapes: [{ ...TINY[0]!, embd: 250 }] }), /embd 250 must be a multiple of heads 4/);
    await assert.rejects(measureSpeedProfile({ ...FAST, decodeSteps: 0 }), /decodeSteps must be a positive integer/);
    await assert.rejects(Inventory.start({ refreshMs: 0 }), /refreshMs must be at least 10 ms/);
    assert.equal(DEFAULT_SPEED_SHAPES.length, 2);
});

test("the default shapes measure in a few seconds", { timeout: 120000 }, async () => {
    const profile = await measureSpeedProfile({ tempDir: dir });
    checkProfile(profile, DEFAULT_SPEED_SHAPES);
    for (const l of profile.layers)
        console.log(`# ${l.shape.name}: decode ${l.decodeMsPerToken.toFixed(3)} ms/token/layer, prefill ${l.prefillMsPerToken.toFixed(3)} ms/token/layer, ` +
            `${(l.layerBytes / 2 ** 20).toFixed(1)} MiB/layer, ${l.stageLayers} layers timed`);
    console.log(`# measured in ${profile.measureMs.toFixed(0)} ms with ${profile.threads} threads`);
    assert.deepEqual(leftovers(), []);
});
