// GGUF reading, writing and stage slicing: exact round trips and clear refusals of bad files.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { GgufType, kvNumber, kvString, str, u32, type GgufValue } from "../app/gguf/format.ts";
import { arrayItems, arrayValue } from "../app/gguf/arrays.ts";
import { GGML_TYPES } from "../app/gguf/ggml-types.ts";
import { readGgufHeader } from "../app/gguf/reader.ts";
import { SequentialFileWriter, layoutGguf } from "../app/gguf/writer.ts";
import { loadAddon } from "../app/native/addon.ts";
import { StageRuntime } from "../app/stage/runtime.ts";
import { parseLayerRanges, readStageMetadata, sliceStage } from "../app/stage/slice.ts";
import { SMALL, buildModel, tempDir } from "./helpers/models.ts";

const dir = tempDir("gguf");
after(() => fs.rmSync(dir, { recursive: true, force: true }));

async function writeGguf(file: string, kv: Map<string, GgufValue>, tensors: Array<{ name: string; dims: bigint[]; type: number; data: Buffer }>) {
    const layout = layoutGguf(kv, tensors, 32);
    const w = await SequentialFileWriter.create(file);
    await w.write(layout.header);
    for (const [i, t] of tensors.entries()) { await w.padTo(layout.tensorOffsets[i]!); await w.write(t.data); }
    await w.padTo(layout.end);
    await w.close();
}

test("the ggml type table matches the linked ggml", async () => {
    const traits = (await loadAddon()).typeTraits();
    assert.deepEqual([...GGML_TYPES.values()].map((t) => ({ ...t })), traits);
});

test("metadata of every value type and tensors round-trip exactly", async () => {
    const kv = new Map<string, GgufValue>([
        ["general.architecture", str("llama")],
        ["u8", { type: GgufType.UINT8, value: 200 }], ["i8", { type: GgufType.INT8, value: -5 }],
        ["u16", { type: GgufType.UINT16, value: 65000 }], ["i16", { type: GgufType.INT16, value: -300 }],
        ["u32", u32(4000000000)], ["i32", { type: GgufType.INT32, value: -7 }],
        ["f32", { type: GgufType.FLOAT32, value: 0.5 }], ["f64", { type: GgufType.FLOAT64, value: Math.PI }],
        ["b", { type: GgufType.BOOL, value: true }], ["u64", { type: GgufType.UINT64, value: 2n ** 60n }],
        ["i64", { type: GgufType.INT64, value: -(2n ** 60n) }],
        ["raw", { type: GgufType.STRING, value: Buffer.from([0xff, 0xfe, 0x41]) }], // not UTF-8: kept as bytes
        ["arr", arrayValue(GgufType.STRING, [Buffer.from("a"), Buffer.from([0xc3])])],
        ["arr32", arrayValue(GgufType.INT32, [1, -2, 3])],
        ["arr64", arrayValue(GgufType.UINT64, [1n, 2n ** 63n])]
    ]);
    const data = Buffer.from(new Float32Array([1, 2, 3, 4, 5, 6]).buffer);
    const file = path.join(dir, "roundtrip.gguf");
    await writeGguf(file, kv, [{ name: "t", dims: [3n, 2n], type: 0, data }, { name: "u", dims: [2n], type: 0, data: data.subarray(0, 8) }]);
    const h = readGgufHeader(file);
    assert.deepEqual(h.kv, kv);
    assert.deepEqual(arrayItems(h.kv.get("arr")!), [Buffer.from("a"), Buffer.from([0xc3])]);
    assert.deepEqual(arrayItems(h.kv.get("arr32")!), [1, -2, 3]);
    assert.deepEqual(arrayItems(h.kv.get("arr64")!), [1n, 2n ** 63n]);
    assert.deepEqual(h.tensors.map((t) => [t.name, t.dims, t.size]), [["t", [3n, 2n], 24n], ["u", [2n], 8n]]);
    const fd = fs.openSync(file, "r");
    const back = Buffer.alloc(24);
    fs.readSync(fd, back, 0, 24, Number(h.dataOffset + h.tensors[0]!.offset));
    fs.closeSync(fd);
    assert.deepEqual(back, data);
});

describe("bad files are refused with a clear error", () => {
    let model = "";
    before(async () => { model = await buildModel(dir, "bad-src", { arch: "llama", vocab: "llama-spm", layers: 3, type: "f32", tied: false, ...SMALL }); });

    test("not a GGUF file", async () => {
        const file = path.join(dir, "text.gguf");
        fs.writeFileSync(file, "this is not a model, just some text that is long enough");
        assert.throws(() => readGgufHeader(file), /not a GGUF file \(bad magic number\)/);
        await assert.rejects(StageRuntime.load(file), /not a GGUF file/);
        await assert.rejects(sliceStage(file, { start: 0, end: 1 }, path.join(dir, "x.gguf")), /not a GGUF file/);
        fs.writeFileSync(file, "GG");
        assert.throws(() => readGgufHeader(file), /too small/);
    });

    test("truncated files: in the header and in the tensor data", async () => {
        const h = readGgufHeader(model);
        const cutHeader = path.join(dir, "cut-header.gguf");
        fs.writeFileSync(cutHeader, fs.readFileSync(model).subarray(0, 4096));
        assert.throws(() => readGgufHeader(cutHeader), /truncated/);
        const cutData = path.join(dir, "cut-data.gguf");
        fs.writeFileSync(cutData, fs.readFileSync(model).subarray(0, Number(h.fileSize) - 1000));
        assert.throws(() => readGgufHeader(cutData), /truncated: tensor .* ends at byte/);
        await assert.rejects(StageRuntime.load(cutData), /truncated/);
        await assert.rejects(sliceStage(cutData, { start: 0, end: 1 }, path.join(dir, "y.gguf")), /truncated/);
        assert.equal(fs.existsSync(path.join(dir, "y.gguf")), false);
    });

    test("inconsistent headers: unknown tensor type, bad alignment", async () => {
        const t = { name: "t", dims: [32n], type: 0, data: Buffer.alloc(128) };
        const f1 = path.join(dir, "badtype.gguf");
        await writeGguf(f1, new Map([["general.architecture", str("llama")]]), [t]);
        // The tensor info is: name length (u64) "t", n_dims (u32) 1, dim (u64) 32, then the type (u32).
        const info = Buffer.concat([Buffer.from(new BigUint64Array([1n]).buffer), Buffer.from("t"), Buffer.from(new Uint32Array([1]).buffer), Buffer.from(new BigUint64Array([32n]).buffer)]);
        const buf = fs.readFileSync(f1);
        const at = buf.indexOf(info);
        assert.ok(at > 0);
        buf.writeUInt32LE(77, at + info.length);
        fs.writeFileSync(f1, buf);
        assert.throws(() => readGgufHeader(f1), /tensor t uses ggml type 77, which this version of Hearth does not know/);

        const f2 = path.join(dir, "align.gguf");
        await writeGguf(f2, new Map([["general.alignment", u32(24)]]), [t]);
        assert.throws(() => readGgufHeader(f2), /general.alignment 24 is not a power of two/);
    });

    test("unsupported architectures are refused, naming the reason", async () => {
        const h = readGgufHeader(model);
        for (const [arch, reason] of [["gemma4", /per-layer token embeddings/], ["granite", /Granite scales/], ["phi2", /no test has proven/]] as const) {
            const kv = new Map(h.kv);
            kv.set("general.architecture", str(arch));
            const file = path.join(dir, `${arch}.gguf`);
            await writeGguf(file, kv, [{ name: "token_embd.weight", dims: [64n, 2n], type: 0, data: Buffer.alloc(512) }]);
            await assert.rejects(sliceStage(file, { start: 0, end: 1 }, path.join(dir, "z.gguf")),
                (e: Error) => reason.test(e.message) && /Supported: llama, qwen2, qwen3/.test(e.message) && e.message.includes(arch));
        }
    });

    test("layer ranges out of bounds", async () => {
        for (const r of [{ start: 0, end: 4 }, { start: 2, end: 2 }, { start: -1, end: 1 }, { start: 3, end: 5 }])
            await assert.rejects(sliceStage(model, r, path.join(dir, "oob.gguf")), /out of bounds: the model has layers 0-3/);
        assert.throws(() => parseLayerRanges("0-2,3-4", 4), /contiguous/);
        assert.throws(() => parseLayerRanges("0-2,2-3", 4), /end at layer 3 but the model has 4/);
        assert.throws(() => parseLayerRanges("1-4", 4), /must start at layer 0/);
        assert.throws(() => parseLayerRanges("0-x", 4), /bad layer range/);
    });
});

describe("stage files", () => {
    let model = "";
    before(async () => { model = await buildModel(dir, "stage-src", { arch: "qwen2", vocab: "qwen2", layers: 5, type: "q8_0", tied: false, ...SMALL }); });

    test("a middle stage holds only its layers, no tokenizer, a one-row head", async () => {
        const out = path.join(dir, "mid.gguf");
        const progress: number[] = [];
        const info = await sliceStage(model, { start: 1, end: 3 }, out, { onProgress: (p) => progress.push(p.bytesDone / p.bytesTotal), chunkBytes: 4096 });
        assert.equal(info.first, false);
        assert.equal(info.last, false);
        assert.ok(progress.length > 10 && progress.at(-1) === 1 && progress.every((p, i) => i === 0 || p >= progress[i - 1]!));
        const src = readGgufHeader(model);
        const h = readGgufHeader(out);
        assert.equal(kvNumber(h, "qwen2.block_count"), 2);
        assert.equal(kvNumber(h, "qwen2.vocab_size"), 1);
        assert.equal(kvString(h, "tokenizer.ggml.model"), "none");
        assert.equal(h.kv.has("tokenizer.ggml.tokens"), false);
        assert.deepEqual(readStageMetadata(h), { layerStart: 1, layerEnd: 3, layerTotal: 5, first: false, last: false, inputTable: null });
        const names = h.tensors.map((t) => t.name);
        assert.ok(names.every((n) => !/^blk\.([2-9])\./.test(n)), "only blk.0 and blk.1");
        assert.deepEqual(h.tensors.find((t) => t.name === "token_embd.weight")!.dims, [64n, 1n]);
        // Layer 2 of the model is blk.1 of the stage, byte for byte.
        const a = src.tensors.find((t) => t.name === "blk.2.attn_q.bias")!;
        const b = h.tensors.find((t) => t.name === "blk.1.attn_q.bias")!;
        const read = (file: string, off: bigint, n: bigint) => { const buf = Buffer.alloc(Number(n)); const fd = fs.openSync(file, "r"); fs.readSync(fd, buf, 0, buf.length, Number(off)); fs.closeSync(fd); return buf; };
        assert.deepEqual(read(out, h.dataOffset + b.offset, b.size), read(model, src.dataOffset + a.offset, a.size));
    });

    test("first stage carries the input table; last stage the tokenizer and the head as token_embd", async () => {
        const src = readGgufHeader(model);
        const first = readGgufHeader((await sliceStage(model, { start: 0, end: 2 }, path.join(dir, "first.gguf"))).path);
        const meta = readStageMetadata(first)!;
        const te = src.tensors.find((t) => t.name === "token_embd.weight")!;
        assert.deepEqual(meta.inputTable, { type: te.type, rows: Number(te.dims[1]), embd: 64, offset: meta.inputTable!.offset });
        assert.equal(BigInt(meta.inputTable!.offset) + te.size, first.fileSize);
        const last = readGgufHeader((await sliceStage(model, { start: 2, end: 5 }, path.join(dir, "last.gguf"))).path);
        const head = src.tensors.find((t) => t.name === "output.weight")!;
        const lastHead = last.tensors.find((t) => t.name === "token_embd.weight")!;
        assert.deepEqual([lastHead.dims, lastHead.type], [head.dims, head.type]);
        assert.equal(last.tensors.some((t) => t.name === "output.weight"), false);
        assert.deepEqual(last.kv.get("tokenizer.ggml.tokens"), src.kv.get("tokenizer.ggml.tokens"));
    });

    test("a full disk is refused before writing, with the figures, and leaves nothing behind", async () => {
        // A real 1 MiB filesystem (tmpfs; the test suite runs as root on Linux, as CI does).
        const small = path.join(dir, "small-disk");
        fs.mkdirSync(small);
        execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", small]);
        try {
            await assert.rejects(sliceStage(model, { start: 0, end: 5 }, path.join(small, "stage.gguf")),
                /not enough disk space in .*small-disk: .* free, the stage file needs .*MB/);
            assert.deepEqual(fs.readdirSync(small), []);
        } finally {
            execFileSync("umount", [small]);
        }
    });
});
