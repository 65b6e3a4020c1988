// The native addon on its own: batches of sequences in any order give what each sequence gives
// alone, hostile numbers are refused by name, a stage computes on its own thread (not libuv's
// pool), dispose while busy frees once the computation ends, and the build keeps paths whole.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { readGgufHeader } from "../app/gguf/reader.ts";
import { addonBackend, loadAddon, loadAddonFrom, type NativeAddon, type NativeStage, type NativeStageOptions } from "../app/native/addon.ts";
import { StageRuntime } from "../app/stage/runtime.ts";
import { readStageMetadata, sliceStage } from "../app/stage/slice.ts";
import { SMALL, buildModel, tempDir } from "./helpers/models.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dir = tempDir("native");
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const EMBD = 128;
const CONTEXT = 64;

interface StepInput { seqId: number; pos: number; tokens?: Int32Array; hidden?: Float32Array; logits?: "none" | "last" | "all"; sample?: boolean }
interface StepOutput { hidden?: Float32Array; logits?: Float32Array; token?: number }
/** A stage as the test drives it: the TS runtime, or the bare native stage with segments in the order given. */
interface Runner {
    forwardBatch(inputs: StepInput[]): Promise<StepOutput[]>;
    truncate(seqId: number, fromPos: number): Promise<void>;
    dispose(): Promise<void>;
}

function nativeRunner(stage: NativeStage, first: boolean, last: boolean): Runner {
    return {
        async forwardBatch(inputs) {
            const counts = inputs.map((i) => first ? i.tokens!.length : i.hidden!.length / EMBD);
            const cat = <T extends Int32Array | Float32Array>(parts: T[], make: (n: number) => T) => {
                const out = make(parts.reduce((a, p) => a + p.length, 0));
                let off = 0;
                for (const p of parts) { out.set(p as never, off); off += p.length; }
                return out;
            };
            const res = await stage.forward({
                segments: inputs.map((i, k) => ({
                    seqId: i.seqId, pos: i.pos, n: counts[k]!,
                    logits: i.logits === "all" ? 2 : i.logits === "last" ? 1 : 0, sample: i.sample ?? false
                })),
                ...(first ? { tokens: cat(inputs.map((i) => i.tokens!), (n) => new Int32Array(n)) }
                    : { hidden: cat(inputs.map((i) => i.hidden!), (n) => new Float32Array(n)) }),
                outputHidden: !last
            });
            let row = 0;
            return inputs.map((_, k) => {
                const n = counts[k]!;
                const out: StepOutput = {};
                if (res.hidden != null) out.hidden = res.hidden.slice(row * EMBD, (row + n) * EMBD);
                const seg = res.segments[k]!;
                if (seg.logits != null) out.logits = seg.logits;
                if (seg.token != null) out.token = seg.token;
                row += n;
                return out;
            });
        },
        async truncate(seqId, fromPos) { stage.removeSequence(seqId, fromPos); },
        async dispose() { stage.dispose(); }
    };
}

function runtimeRunner(stage: StageRuntime): Runner {
    return {
        forwardBatch: (inputs) => stage.forwardBatch(inputs),
        truncate: (seqId, fromPos) => stage.truncate(seqId, fromPos),
        dispose: () => stage.dispose()
    };
}

async function loadNative(addon: NativeAddon, file: string, options: NativeStageOptions = {}): Promise<NativeStage> {
    const meta = readStageMetadata(readGgufHeader(file));
    return addon.loadStage(file, {
        threads: 2, contextSize: CONTEXT, batchSize: 32, maxSequences: 4, ...options,
        ...(meta?.inputTable != null ? { inputTable: meta.inputTable } : {})
    });
}

function permutations<T>(items: T[]): T[][] {
    if (items.length <= 1) return [items];
    return items.flatMap((x, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((p) => [x, ...p]));
}

const bytes = (a: Float32Array | undefined) => Buffer.from(a!.buffer, a!.byteOffset, a!.byteLength);
function assertSame(got: StepOutput, want: StepOutput, what: string) {
    if (want.hidden != null) {
        assert.equal(got.hidden?.length, want.hidden.length, `${what}: hidden length`);
        assert.ok(bytes(got.hidden).equals(bytes(want.hidden)), `${what}: hidden states differ`);
    }
    if (want.logits != null) assert.ok(bytes(got.logits).equals(bytes(want.logits)), `${what}: logits differ`);
    assert.equal(got.token, want.token, `${what}: sampled token`);
}

const prompt = (seq: number) => Int32Array.from({ length: 3 + seq }, (_, i) => 100 + 37 * seq + 11 * i);
const step = (seq: number) => Int32Array.of(2000 + 101 * seq);
const extra = (seq: number) => Int32Array.of(3000 + seq, 3100 + seq, 3200 + seq);

for (const type of ["q8_0", "q4_0"] as const) {
    describe(`batches in any sequence order (${type})`, () => {
        let addon: NativeAddon;
        const files: string[] = [];
        before(async () => {
            addon = await loadAddon();
            const model = await buildModel(dir, `d1-${type}`, { arch: "llama", vocab: "llama-spm", layers: 3, type, tied: false, ...SMALL, embd: EMBD, ff: 256 });
            for (const [i, range] of [{ start: 0, end: 1 }, { start: 1, end: 2 }, { start: 2, end: 3 }].entries())
                files.push((await sliceStage(model, range, path.join(dir, `d1-${type}-${i}.gguf`))).path);
        });

        for (const kind of ["native", "runtime"] as const) {
            test(`${kind}: every permutation of 3 and 4 single-token steps equals each step alone, bit for bit`, async () => {
                const stages: Runner[] = kind === "native"
                    ? await Promise.all(files.map(async (f, i) => nativeRunner(await loadNative(addon, f), i === 0, i === 2)))
                    : await Promise.all(files.map(async (f) => runtimeRunner(await StageRuntime.load(f, { threads: 2, contextSize: CONTEXT, batchSize: 32, maxSequences: 4 }))));
                try {
                    // Each sequence's prompt in its cache, then its step alone: the reference.
                    const alone: StepOutput[][] = [];
                    for (let s = 0; s < 4; s++) {
                        const p = prompt(s);
                        const [h0] = await stages[0]!.forwardBatch([{ seqId: s, pos: 0, tokens: p }]);
                        const [h1] = await stages[1]!.forwardBatch([{ seqId: s, pos: 0, hidden: h0!.hidden! }]);
                        await stages[2]!.forwardBatch([{ seqId: s, pos: 0, hidden: h1!.hidden! }]);
                        const [a0] = await stages[0]!.forwardBatch([{ seqId: s, pos: p.length, tokens: step(s) }]);
                        const [a1] = await stages[1]!.forwardBatch([{ seqId: s, pos: p.length, hidden: a0!.hidden! }]);
                        const [a2] = await stages[2]!.forwardBatch([{ seqId: s, pos: p.length, hidden: a1!.hidden!, logits: "last", sample: true }]);
                        alone.push([a0!, a1!, a2!]);
                    }
                    const orders = [...permutations([0, 1, 2]), ...permutations([0, 2, 3]), ...permutations([0, 1, 2, 3])];
                    for (const order of orders) {
                        for (const s of order) for (const st of stages) await st.truncate(s, prompt(s).length);
                        const pos = (s: number) => prompt(s).length;
                        const o0 = await stages[0]!.forwardBatch(order.map((s) => ({ seqId: s, pos: pos(s), tokens: step(s) })));
                        const o1 = await stages[1]!.forwardBatch(order.map((s, k) => ({ seqId: s, pos: pos(s), hidden: o0[k]!.hidden! })));
                        const o2 = await stages[2]!.forwardBatch(order.map((s, k) => ({ seqId: s, pos: pos(s), hidden: o1[k]!.hidden!, logits: "last", sample: true })));
                        order.forEach((s, k) => {
                            assertSame(o0[k]!, alone[s]![0]!, `order ${order} seq ${s} first stage`);
                            assertSame(o1[k]!, alone[s]![1]!, `order ${order} seq ${s} middle stage`);
                            assertSame(o2[k]!, alone[s]![2]!, `order ${order} seq ${s} last stage`);
                        });
                    }

                    // One multi-token segment among single-token steps: each gets what it gets alone.
                    for (const s of [0, 1, 2, 3]) for (const st of stages) await st.truncate(s, prompt(s).length);
                    const ref: StepOutput[][] = [];
                    for (const s of [0, 1, 2, 3]) {
                        const tokens = s === 1 ? extra(s) : step(s);
                        const [a0] = await stages[0]!.forwardBatch([{ seqId: s, pos: prompt(s).length, tokens }]);
                        const [a1] = await stages[1]!.forwardBatch([{ seqId: s, pos: prompt(s).length, hidden: a0!.hidden! }]);
                        const [a2] = await stages[2]!.forwardBatch([{ seqId: s, pos: prompt(s).length, hidden: a1!.hidden!, logits: "all", sample: true }]);
                        ref[s] = [a0!, a1!, a2!];
                        for (const st of stages) await st.truncate(s, prompt(s).length);
                    }
                    for (const order of [[2, 1, 0, 3], [1, 0, 2, 3], [0, 2, 3, 1], [3, 1, 2]]) {
                        for (const s of order) for (const st of stages) await st.truncate(s, prompt(s).length);
                        const tok = (s: number) => s === 1 ? extra(s) : step(s);
                        const o0 = await stages[0]!.forwardBatch(order.map((s) => ({ seqId: s, pos: prompt(s).length, tokens: tok(s) })));
                        const o1 = await stages[1]!.forwardBatch(order.map((s, k) => ({ seqId: s, pos: prompt(s).length, hidden: o0[k]!.hidden! })));
                        const o2 = await stages[2]!.forwardBatch(order.map((s, k) => ({ seqId: s, pos: prompt(s).length, hidden: o1[k]!.hidden!, logits: "all", sample: true })));
                        order.forEach((s, k) => {
                            assertSame(o0[k]!, ref[s]![0]!, `mixed ${order} seq ${s} first stage`);
                            assertSame(o1[k]!, ref[s]![1]!, `mixed ${order} seq ${s} middle stage`);
                            assertSame(o2[k]!, ref[s]![2]!, `mixed ${order} seq ${s} last stage`);
                        });
                    }
                } finally {
                    await Promise.all(stages.map((s) => s.dispose()));
                }
            });
        }
    });
}

describe("hostile input and lifecycle", () => {
    let addon: NativeAddon;
    let model: string;
    let firstStage: string;
    before(async () => {
        addon = await loadAddon();
        model = await buildModel(dir, "hostile", { arch: "llama", vocab: "llama-spm", layers: 2, type: "q8_0", tied: false, ...SMALL });
        firstStage = (await sliceStage(model, { start: 0, end: 1 }, path.join(dir, "hostile-0.gguf"))).path;
    });

    test("numeric options are checked and named", async () => {
        const table = readStageMetadata(readGgufHeader(firstStage))!.inputTable!;
        const bad: Array<[NativeStageOptions, RegExp]> = [
            [{ contextSize: NaN }, /contextSize must be an integer/],
            [{ contextSize: 0 }, /contextSize must be an integer in \[1,/],
            [{ batchSize: -1 }, /batchSize/],
            [{ threads: 1.5 }, /threads must be an integer/],
            [{ maxSequences: 2 ** 40 }, /maxSequences must be an integer in \[1, 256\]/],
            [{ gpuLayers: Infinity }, /gpuLayers .*Infinity/],
            [{ flashAttention: 7 }, /flashAttention/],
            [{ threadPolling: 1e300 }, /threadPolling/],
            [{ contextSize: 2 ** 31, maxSequences: 4 }, /KV cells/],
            [{ inputTable: { ...table, offset: NaN } }, /inputTable\.offset must be an integer.*NaN/],
            [{ inputTable: { ...table, rows: 2 ** 31 } }, /inputTable\.rows must be an integer in \[1, 2147483647\]/],
            [{ inputTable: { ...table, type: 999 } }, /inputTable\.type/],
            [{ inputTable: { ...table, embd: -3 } }, /inputTable\.embd/]
        ];
        for (const [options, message] of bad) {
            await assert.rejects(async () => addon.loadStage(firstStage, options), (e: Error) => e instanceof RangeError && message.test(e.message), String(message));
        }
        await assert.rejects(async () => addon.loadStage(firstStage, { contextSize: "8" as never }), /contextSize must be a number/);
    });

    test("an input table that does not end the file is refused before anything is loaded, and the stage frees what it loaded", async () => {
        const table = readStageMetadata(readGgufHeader(firstStage))!.inputTable!;
        const size = fs.statSync(firstStage).size;
        await assert.rejects(addon.loadStage(firstStage, { inputTable: { ...table, rows: table.rows - 1 } }), /does not end at the end of .*\(\d+ bytes\)/);
        await assert.rejects(addon.loadStage(firstStage, { inputTable: { ...table, offset: table.offset + 64 } }), /does not end at the end/);
        await assert.rejects(addon.loadStage(firstStage, { inputTable: { ...table, rows: 2 ** 31 - 1 } }), /does not end at the end/);
        await assert.rejects(addon.loadStage(firstStage, { inputTable: { ...table, embd: 65 } }), /width 65 is not a positive multiple/);
        assert.equal(fs.statSync(firstStage).size, size);
        // Past the model load: the table width does not match the model (q8_0 blocks of 32: 96 is whole).
        const rowBytes = (size - table.offset) / table.rows;
        const rows96 = (size - table.offset) / (rowBytes / 64 * 96);
        if (Number.isInteger(rows96)) {
            await assert.rejects(addon.loadStage(firstStage, { inputTable: { ...table, embd: 96, rows: rows96 } }), /width 96 does not match the model's n_embd 64/);
        }
        // A failed load leaks nothing that keeps the process from loading again (and exiting).
        const ok = await loadNative(addon, firstStage, { maxSequences: 1 });
        ok.dispose();
    });

    test("forward, setSampler and removeSequence check their numbers", async () => {
        const stage = await loadNative(addon, firstStage, { maxSequences: 2 });
        try {
            const tokens = Int32Array.of(1, 2);
            const seg = { seqId: 0, pos: 0, n: 2 };
            for (const [req, message] of [
                [{ segments: [{ ...seg, seqId: NaN }], tokens }, /segments\[0\]\.seqId must be an integer in \[-2147483648, 2147483647\], got NaN/],
                [{ segments: [{ ...seg, seqId: 2 ** 32 }], tokens }, /segments\[0\]\.seqId/],
                [{ segments: [{ ...seg, pos: 2 ** 31 }], tokens }, /segments\[0\]\.pos/],
                [{ segments: [{ ...seg, pos: -Infinity }], tokens }, /segments\[0\]\.pos .*-Infinity/],
                [{ segments: [{ ...seg, n: 2.5 }], tokens }, /segments\[0\]\.n/],
                [{ segments: [{ ...seg, logits: 3 }], tokens }, /segments\[0\]\.logits/]
            ] as const) {
                assert.throws(() => stage.forward(req as never), (e: Error) => e instanceof RangeError && message.test(e.message), String(message));
            }
            // In range for the type but not for the stage: the promise rejects, as before.
            await assert.rejects(stage.forward({ segments: [{ ...seg, seqId: 2 }], tokens }), /sequence id 2 out of range \[0, 2\)/);
            await assert.rejects(stage.forward({ segments: [{ ...seg, pos: -1 }], tokens }), /bad segment position or length/);
            await assert.rejects(stage.forward({ segments: [{ ...seg, n: 2 ** 31 - 1 }, { ...seg, seqId: 1, n: 2 ** 31 - 1 }], tokens }), /segments cover 4294967294 tokens but the batch has 2/);
            assert.throws(() => stage.forward({ segments: [seg], tokens: new Float32Array(2) as never }), /tokens must be an Int32Array/);
            assert.throws(() => stage.forward({ segments: [{ ...seg, accept: new Float32Array(1) as never }], tokens }), /segments\[0\]\.accept must be an Int32Array/);
            assert.throws(() => stage.forward({ segments: [seg], hidden: new Int32Array(128) as never }), /hidden must be a Float32Array/);
            assert.throws(() => stage.setSampler(0, { temperature: NaN }), /temperature must be a finite number, got NaN/);
            assert.throws(() => stage.setSampler(0, { seed: -1 }), /seed must be an integer in \[0, 4294967295\]/);
            assert.throws(() => stage.setSampler(0, { topK: 2 ** 32 }), /topK/);
            assert.throws(() => stage.setSampler(NaN, null), /seqId must be an integer/);
            assert.throws(() => stage.removeSequence(Infinity), /seqId must be an integer/);
            assert.throws(() => stage.removeSequence(0, -5), /fromPos/);
            // Still serving.
            const res = await stage.forward({ segments: [seg], tokens, outputHidden: true });
            assert.equal(res.hidden!.length, 2 * 64);
        } finally {
            stage.dispose();
        }
    });

    test("dispose while busy frees the stage when its computation ends; the stage then refuses calls", async () => {
        const stage = await loadNative(addon, model, { maxSequences: 1, batchSize: 512, contextSize: 512, threads: 1 });
        const running = stage.forward({ segments: [{ seqId: 0, pos: 0, n: 512, logits: 2 }], tokens: new Int32Array(512).fill(5) });
        assert.throws(() => stage.info(), /busy/);
        stage.dispose();  // does not throw; asks the computation to abort
        assert.throws(() => stage.info(), /disposed/);
        const settled = await running.then(() => "resolved", (e: Error) => e.message);
        assert.ok(settled === "resolved" || /aborted/.test(settled), settled);
        assert.throws(() => stage.info(), /disposed/);
        assert.throws(() => stage.forward({ segments: [{ seqId: 0, pos: 0, n: 1 }], tokens: Int32Array.of(1) }), /disposed/);
        stage.dispose();  // twice is fine
        // Not aborting forever: a new stage computes.
        const again = await loadNative(addon, model, { maxSequences: 1 });
        const r = await again.forward({ segments: [{ seqId: 0, pos: 0, n: 1, sample: true }], tokens: Int32Array.of(1) });
        assert.ok(Number.isInteger(r.segments[0]!.token));
        again.dispose();
    });

    test("stages compute on their own threads: file I/O goes on while more stages than libuv has threads are busy", async () => {
        const stages = await Promise.all(Array.from({ length: 6 }, () => loadNative(addon, model, { maxSequences: 1, batchSize: 512, contextSize: 512, threads: 1 })));
        try {
            let firstDone = Infinity;
            const t0 = performance.now();
            const forwards = stages.map((s) => s.forward({ segments: [{ seqId: 0, pos: 0, n: 512, logits: 2 }], tokens: new Int32Array(512).fill(7) })
                .then(() => { firstDone = Math.min(firstDone, performance.now() - t0); }));
            await fs.promises.stat(firstStage);
            await fs.promises.readFile(firstStage, { encoding: null }).then((b) => b.length);
            const ioDone = performance.now() - t0;
            await Promise.all(forwards);
            assert.ok(ioDone < firstDone, `file I/O took ${ioDone.toFixed(1)} ms, the first forward ended at ${firstDone.toFixed(1)} ms`);
        } finally {
            for (const s of stages) s.dispose();
        }
    });
});

describe("native build configuration", () => {
    test("node-gyp configure keeps include and library paths with spaces and backslashes whole", async () => {
        const { buildConfigGypi } = await import("../native/gyp-config.mjs");
        const base = fs.mkdtempSync(path.join(os.tmpdir(), "hearth native build "));
        try {
            const native = path.join(base, "my native");
            fs.mkdirSync(native, { recursive: true });
            fs.cpSync(path.join(root, "native", "src"), path.join(native, "src"), { recursive: true });
            fs.copyFileSync(path.join(root, "native", "binding.gyp"), path.join(native, "binding.gyp"));
            const inc = [path.join(base, "include dir", "llama"), path.join(base, "ggml inc")];
            const libDir = path.join(base, "lib dir", "bins");
            const libs = [path.join(libDir, "libllama.so"), "C:\\Users\\Jane Doe\\hearth\\llama.lib"];
            fs.writeFileSync(path.join(native, "build-config.gypi"),
                buildConfigGypi({ includeDirs: inc, libraries: libs, libDir, addonDir: path.join(native, "build", "Release"), platform: "linux" }));
            const nodeGyp = createRequire(import.meta.url).resolve("node-gyp/bin/node-gyp.js");
            const args = [nodeGyp, "configure", "--directory", native];
            const localNodeDir = path.resolve(path.dirname(process.execPath), "..");
            if (fs.existsSync(path.join(localNodeDir, "include", "node", "node_api.h"))) args.push(`--nodedir=${localNodeDir}`);
            execFileSync(process.execPath, args, { stdio: "pipe", cwd: native });
            const mk = fs.readFileSync(path.join(native, "build", "hearth_stage.target.mk"), "utf8");
            // gyp's make generator escapes a space as "\ " inside one argument.
            const escaped = (p: string) => p.replace(/ /g, "\\ ");
            for (const d of inc) assert.ok(mk.includes(`-I${escaped(d)}`) || mk.includes(`-I${d}`), `include dir ${d} is whole in the Makefile`);
            for (const l of libs) assert.ok(mk.includes(l) || mk.includes(escaped(l)) || mk.includes(escaped(l).replace(/\\(?! )/g, "\\\\")), `library ${l} is whole in the Makefile:\n${mk.split("\n").filter((x) => /llama/.test(x)).join("\n")}`);
            assert.match(mk, /-Wl,-rpath,'\$\$ORIGIN\/..\/..\/..\/lib dir\/bins'|-Wl,-rpath,'\$\$ORIGIN\/\.\.\/\.\.\/\.\.\/lib\\ dir\/bins'/);
        } finally {
            fs.rmSync(base, { recursive: true, force: true });
        }
    });

    test("one addon per installed llama.cpp backend, each linked to its own backend's libraries by a path relative to itself", { skip: process.platform !== "linux" }, () => {
        const outDir = path.join(root, "native", "out");
        const backends = fs.readdirSync(outDir).sort();
        // This machine installs node-llama-cpp's CPU, CUDA and Vulkan packages for linux-x64.
        assert.deepEqual(backends, ["cpu", "cuda", "vulkan"]);
        for (const backend of backends) {
            const file = path.join(outDir, backend, "hearth_stage.node");
            const out = execFileSync("readelf", ["-d", file], { encoding: "utf8" });
            const paths = [...out.matchAll(/\((?:RUNPATH|RPATH)\)\s+Library (?:runpath|rpath): \[(.*)\]/g)].flatMap((m) => m[1]!.split(":"));
            assert.ok(paths.length > 0, `${backend}: has a RUNPATH`);
            for (const p of paths) assert.ok(p.startsWith("$ORIGIN"), `${backend}: run path ${p} is relative to the addon`);
            const needed = [...out.matchAll(/\(NEEDED\)\s+Shared library: \[(.*)\]/g)].map((m) => m[1]!);
            const llama = needed.find((n) => n.startsWith("libllama"));
            assert.equal(llama, backend === "cpu" ? `libllama.${llamaTag()}.so` : `libllama.${backend}.${llamaTag()}.so`, `${backend}: links its backend's libllama`);
            const resolved = path.resolve(path.dirname(file), paths[0]!.replace("$ORIGIN", "."));
            assert.ok(fs.existsSync(path.join(resolved, llama!)), `${backend}: ${llama} is found in ${resolved}`);
        }
    });
});

function llamaTag(): string {
    return (JSON.parse(fs.readFileSync(path.join(root, "node_modules", "node-llama-cpp", "llama", "llama.cpp.info.json"), "utf8")) as { tag: string }).tag;
}

describe("loading the addon of the backend node-llama-cpp chose", () => {
    test("the backend names the folder; a missing or broken addon fails with one line naming the backend and the file", () => {
        assert.equal(addonBackend(false), "cpu");
        assert.equal(addonBackend("cuda"), "cuda");
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-addon-"));
        try {
            const missing = path.join(dir, "out", "metal", "hearth_stage.node");
            assert.throws(() => loadAddonFrom(dir, "metal"), (e: Error) => {
                assert.equal(e.message, `the stage runtime for llama.cpp's metal backend is missing (${missing}): run 'npm run build:native' (it builds one per backend installed)`);
                return true;
            });
            const broken = path.join(dir, "out", "vulkan", "hearth_stage.node");
            fs.mkdirSync(path.dirname(broken), { recursive: true });
            fs.writeFileSync(broken, Buffer.from("not a shared library"));
            assert.throws(() => loadAddonFrom(dir, "vulkan"), (e: Error) => {
                assert.ok(e.message.startsWith(`the stage runtime for llama.cpp's vulkan backend (${broken}) did not load: `), e.message);
                assert.ok(!e.message.includes("\n"), "one line");
                return true;
            });
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

