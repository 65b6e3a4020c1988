// Mutated GGUF files for the fuzz and model-check tests: a header is edited as lists of metadata
// entries and tensor infos (duplicates allowed), then written with the tensor data copied from the
// source file, and, for a first stage, its input embedding table appended after the tensors.
import fs from "node:fs";
import { GgufType, alignUp, type GgufHeader, type GgufValue } from "../../app/gguf/format.ts";
import { GGML_TYPES } from "../../app/gguf/ggml-types.ts";
import { readGgufHeader } from "../../app/gguf/reader.ts";
import { ByteSink } from "../../app/gguf/writer.ts";
import { arrayValue, arrayItems } from "../../app/gguf/arrays.ts";

export interface EditTensor {
    name: string;
    dims: bigint[];
    type: number;
    /** where this tensor's bytes come from in the source file (absolute offset), and how many */
    source: { offset: bigint; size: bigint } | null;
}

export interface EditableGguf {
    source: string;
    alignment: number;
    kv: Array<[string, GgufValue]>;
    tensors: EditTensor[];
    /** the source's input embedding table (first stages), appended after the tensors */
    inputTable: { offset: bigint; size: bigint } | null;
    /** keep hearth.input_embd.offset as set in kv instead of pointing it at the table */
    keepInputOffset: boolean;
    /** bytes to cut from the end of the written file */
    truncateBy: bigint;
}

const MAX_TENSOR_WRITE = 64n << 20n;

/** Bytes of a tensor, or null when the type is unknown or the row does not fill whole blocks. */
export function sizeOf(type: number, dims: readonly bigint[]): bigint | null {
    const info = GGML_TYPES.get(type);
    if (info == null || dims.length === 0) return null;
    if (dims[0]! % BigInt(info.blockSize) !== 0n) return null;
    let n = (dims[0]! / BigInt(info.blockSize)) * BigInt(info.typeSize);
    for (const d of dims.slice(1)) n *= d;
    return n;
}

export function editable(file: string): EditableGguf {
    const h = readGgufHeader(file);
    const offsetValue = h.kv.get("hearth.input_embd.offset");
    let inputTable: EditableGguf["inputTable"] = null;
    if (offsetValue != null && offsetValue.type === GgufType.UINT64) {
        const offset = offsetValue.value as bigint;
        inputTable = { offset, size: h.fileSize - offset };
    }
    return {
        source: file,
        alignment: h.alignment,
        kv: [...h.kv.entries()],
        tensors: h.tensors.map((t) => ({ name: t.name, dims: [...t.dims], type: t.type, source: { offset: h.dataOffset + t.offset, size: t.size } })),
        inputTable,
        keepInputOffset: false,
        truncateBy: 0n
    };
}

function serializeHeader(g: EditableGguf, kv: Array<[string, GgufValue]>): { header: Buffer; offsets: bigint[]; sizes: bigint[]; end: bigint } {
    const s = new ByteSink();
    s.u32(0x46554747);
    s.u32(3);
    s.u64(BigInt(g.tensors.length));
    s.u64(BigInt(kv.length));
    for (const [key, v] of kv) {
        s.string(key);
        s.u32(v.type);
        if (v.type === GgufType.ARRAY) { s.u32(v.itemType); s.u64(BigInt(v.count)); s.push(v.raw); }
        else s.scalar(v.type, v.value);
    }
    const sizes = g.tensors.map((t) => sizeOf(t.type, t.dims) ?? 0n);
    const rel: bigint[] = [];
    let pos = 0n;
    for (const [i, t] of g.tensors.entries()) {
        rel.push(pos);
        s.string(t.name);
        s.u32(t.dims.length);
        for (const d of t.dims) s.u64(BigInt.asUintN(64, d));
        s.u32(t.type >>> 0);
        s.u64(BigInt.asUintN(64, pos));
        pos = alignUp(pos + sizes[i]!, g.alignment);
    }
    const dataOffset = alignUp(BigInt(s.length), g.alignment);
    s.push(Buffer.alloc(Number(dataOffset) - s.length));
    return { header: s.toBuffer(), offsets: rel.map((o) => dataOffset + o), sizes, end: dataOffset + pos };
}

/** Writes the edited file; tensor data is copied from the source (cut or zero-padded to the new size). */
export function writeEditable(g: EditableGguf, out: string): void {
    let kv = g.kv;
    let layout = serializeHeader(g, kv);
    if (g.inputTable != null && !g.keepInputOffset) {
        const set = (end: bigint) => g.kv.map(([k, v]): [string, GgufValue] => k === "hearth.input_embd.offset" && v.type === GgufType.UINT64 ? [k, { type: GgufType.UINT64, value: end }] : [k, v]);
        kv = set(BigInt.asUintN(64, layout.end));
        layout = serializeHeader(g, kv);
    }
    const src = fs.openSync(g.source, "r");
    const chunks: Buffer[] = [layout.header];
    let pos = BigInt(layout.header.length);
    let budget = MAX_TENSOR_WRITE;
    const pad = (to: bigint) => { if (to > pos) { chunks.push(Buffer.alloc(Number(to - pos))); pos = to; } };
    const copy = (from: bigint, n: bigint) => {
        const b = Buffer.alloc(Number(n));
        fs.readSync(src, b, 0, b.length, Number(from));
        chunks.push(b);
        pos += n;
    };
    try {
        let truncated = false;
        for (const [i, t] of g.tensors.entries()) {
            const size = layout.sizes[i]!;
            if (size > budget) { truncated = true; break; }
            budget -= size;
            pad(layout.offsets[i]!);
            const have = t.source == null ? 0n : (t.source.size < size ? t.source.size : size);
            if (have > 0n) copy(t.source!.offset, have);
            pad(layout.offsets[i]! + size);
        }
        if (!truncated) {
            pad(layout.end);
            if (g.inputTable != null && g.inputTable.size <= budget) copy(g.inputTable.offset, g.inputTable.size);
        }
    } finally {
        fs.closeSync(src);
    }
    let buf = Buffer.concat(chunks);
    if (g.truncateBy > 0n) buf = buf.subarray(0, Math.max(0, buf.length - Number(g.truncateBy)));
    fs.writeFileSync(out, buf);
}

// ---- small helpers for building one-change files ----

export function getKv(g: EditableGguf, key: string): GgufValue | undefined {
    return g.kv.find(([k]) => k === key)?.[1];
}

export function setKv(g: EditableGguf, key: string, value: GgufValue): void {
    const i = g.kv.findIndex(([k]) => k === key);
    if (i >= 0) g.kv[i] = [key, value];
    else g.kv.push([key, value]);
}

export function dropKv(g: EditableGguf, key: string): void {
    g.kv = g.kv.filter(([k]) => k !== key);
}

export function tensor(g: EditableGguf, name: string): EditTensor {
    const t = g.tensors.find((x) => x.name === name);
    if (t == null) throw new Error(`test: no tensor ${name} in ${g.source}`);
    return t;
}

export function readHeader(file: string): GgufHeader { return readGgufHeader(file); }

export function stringArray(items: readonly string[]): GgufValue {
    return arrayValue(GgufType.STRING, items.map((s) => Buffer.from(s, "utf8")));
}

export function mapArray(v: GgufValue, fn: (items: unknown[]) => unknown[]): GgufValue {
    if (v.type !== GgufType.ARRAY) throw new Error("test: not an array");
    return arrayValue(v.itemType, fn(arrayItems(v)) as never);
}

// ---- random structured mutations ----

/** Deterministic PRNG (mulberry32). */
export class Random {
    private s: number;
    constructor(seed: number) { this.s = seed >>> 0; }
    next(): number {
        this.s = (this.s + 0x6d2b79f5) >>> 0;
        let t = this.s;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    }
    int(n: number): number { return Math.floor(this.next() * n); }
    pick<T>(items: readonly T[]): T { return items[this.int(items.length)]!; }
    chance(p: number): boolean { return this.next() < p; }
}

const INTERESTING_U32 = [0, 1, 2, 3, 7, 31, 32, 33, 63, 64, 65, 127, 128, 255, 256, 511, 512, 513, 1023, 1024, 4095, 4096, 65535, 65536, 65537, 1 << 20, (1 << 20) + 1, 1 << 24, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1];
const INTERESTING_U64 = [0n, 1n, 31n, 32n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 32n, 2n ** 32n + 1n, 2n ** 40n, 2n ** 56n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n];
const INTERESTING_F32 = [0, -0, 1, -1, 1e-5, 1e-30, 1e30, 2, 0.5, NaN, Infinity, -Infinity, 3.4e38, -1e-6];
const STRINGS = ["", "llama", "gpt2", "none", "no_vocab", "bert", "t5", "rwkv", "test", "plamo2", "gemma4", "qwen2", "qwen3", "gemma", "mamba", "linear", "yarn", "longrope", "none ", "\n", "x".repeat(300)];
const SCALAR_TYPES = [GgufType.UINT8, GgufType.INT8, GgufType.UINT16, GgufType.INT16, GgufType.UINT32, GgufType.INT32, GgufType.FLOAT32, GgufType.BOOL, GgufType.STRING, GgufType.UINT64, GgufType.INT64, GgufType.FLOAT64];

export function randomScalar(r: Random, near?: GgufValue): GgufValue {
    const type = near != null && near.type !== GgufType.ARRAY && r.chance(0.6) ? near.type : r.pick(SCALAR_TYPES);
    const base = near != null && near.type !== GgufType.ARRAY && typeof near.value === "number" && Number.isInteger(near.value) ? near.value : 64;
    switch (type) {
        case GgufType.UINT8: return { type, value: r.int(256) };
        case GgufType.INT8: return { type, value: r.int(256) - 128 };
        case GgufType.UINT16: return { type, value: r.int(65536) };
        case GgufType.INT16: return { type, value: r.int(65536) - 32768 };
        case GgufType.UINT32: {
            const opts = [r.pick(INTERESTING_U32), base + 1, Math.max(0, base - 1), base * 2, Math.floor(base / 2), r.int(200)];
            return { type, value: (r.pick(opts) >>> 0) };
        }
        case GgufType.INT32: return { type, value: r.pick([-1, -(2 ** 31), 0, 1, 2 ** 31 - 1, base | 0, -(base | 0)]) };
        case GgufType.FLOAT32: return { type, value: r.pick(INTERESTING_F32) };
        case GgufType.FLOAT64: return { type, value: r.pick(INTERESTING_F32) };
        case GgufType.BOOL: return { type, value: r.chance(0.5) };
        case GgufType.STRING: return { type, value: Buffer.from(r.pick(STRINGS), "utf8") };
        case GgufType.UINT64: return { type, value: r.pick([...INTERESTING_U64, BigInt(base) + 1n, BigInt(base)]) };
        case GgufType.INT64: return { type, value: r.pick([-1n, 0n, 1n, -(2n ** 63n), 2n ** 63n - 1n, BigInt(base)]) };
        default: return { type: GgufType.UINT32, value: 0 };
    }
}

function mutateArray(r: Random, v: GgufValue & { type: GgufType.ARRAY }, nLayerHint: number): GgufValue {
    const items = arrayItems(v);
    switch (r.int(8)) {
        case 0: return arrayValue(v.itemType, items.slice(0, r.int(items.length + 1)));
        case 1: return arrayValue(v.itemType, [...items, ...items.slice(0, 1 + r.int(Math.max(1, Math.min(items.length, 8))))]);
        case 2: { // duplicate or blank one item
            if (items.length < 2) return arrayValue(v.itemType, []);
            const i = r.int(items.length), j = r.int(items.length);
            const fresh = r.chance(0.5) ? Buffer.alloc(0) : Buffer.from(`fuzz_${r.int(1e9)}`);
            items[i] = r.chance(0.4) ? items[j]! : (v.itemType === GgufType.STRING ? fresh : items[j]!);
            return arrayValue(v.itemType, items);
        }
        case 3: { // one item to an interesting value
            if (items.length === 0) return v;
            const i = r.chance(0.3) ? r.int(Math.min(items.length, 300)) : r.int(items.length);
            const x = randomScalar(r, { type: v.itemType, value: items[i]! } as GgufValue);
            if (x.type === v.itemType) items[i] = (x as unknown as { value: never }).value;
            return arrayValue(v.itemType, items);
        }
        case 4: { // another item type, same count
            const t = r.pick([GgufType.UINT32, GgufType.INT32, GgufType.FLOAT32, GgufType.STRING, GgufType.BOOL, GgufType.UINT8, GgufType.UINT64] as const);
            const make = (): never => (t === GgufType.STRING ? Buffer.from("a") : t === GgufType.BOOL ? true : t === GgufType.UINT64 ? 1n : 1) as never;
            return arrayValue(t, Array.from({ length: Math.min(items.length, 100000) }, make));
        }
        case 5: return arrayValue(GgufType.UINT32, Array.from({ length: nLayerHint }, () => r.pick(INTERESTING_U32) >>> 0));
        case 6: return randomScalar(r);
        default: { // byte-level corruption inside the array payload: the count stays, the content shifts
            const raw = Buffer.from(v.raw);
            if (raw.length > 0) for (let k = 0; k < 1 + r.int(4); k++) raw[r.int(raw.length)] = r.int(256);
            return { ...v, raw };
        }
    }
}

const ALL_TYPES = [...GGML_TYPES.keys()];

/** One or a few structured changes; returns a description of what was changed. */
export function mutate(r: Random, g: EditableGguf): string {
    const arch = (() => { const v = getKv(g, "general.architecture"); return v != null && v.type === GgufType.STRING ? (v.value as Buffer).toString() : "llama"; })();
    const nLayer = g.tensors.filter((t) => t.name.endsWith(".attn_norm.weight")).length || 1;
    const kind = r.int(20);
    const keyed = (pred: (k: string) => boolean) => {
        const keys = g.kv.map(([k]) => k).filter(pred);
        return keys.length > 0 ? r.pick(keys) : g.kv[r.int(g.kv.length)]![0];
    };
    const important = (k: string) => k.startsWith(`${arch}.`) || k.startsWith("hearth.") || k.startsWith("general.") || (k.startsWith("tokenizer.") && !k.endsWith("chat_template"));
    switch (kind) {
        case 0: case 1: case 2: case 3: { // a numeric/any key gets another value, often of the same type
            const key = keyed(important);
            const old = getKv(g, key)!;
            if (old.type === GgufType.ARRAY) { setKv(g, key, mutateArray(r, old, nLayer)); return `array ${key} mutated`; }
            const v = randomScalar(r, old);
            setKv(g, key, v);
            if (key === "hearth.input_embd.offset") g.keepInputOffset = true;
            const x = (v as { value: unknown }).value;
            return `${key} = ${Buffer.isBuffer(x) ? JSON.stringify(x.toString()) : String(x)} (${GgufType[v.type]})`;
        }
        case 4: { // string keys to interesting strings
            const key = r.pick(["general.architecture", "tokenizer.ggml.model", "tokenizer.ggml.pre", `${arch}.rope.scaling.type`]);
            setKv(g, key, { type: GgufType.STRING, value: Buffer.from(r.pick(STRINGS)) });
            return `${key} = string`;
        }
        case 5: { const key = keyed(important); dropKv(g, key); return `dropped ${key}`; }
        case 6: { // duplicated key (same or other value)
            const key = keyed(important);
            const old = getKv(g, key)!;
            g.kv.push([key, r.chance(0.5) ? old : randomScalar(r, old)]);
            return `duplicated ${key}`;
        }
        case 7: { // an array key
            const arrays = g.kv.filter(([, v]) => v.type === GgufType.ARRAY).map(([k]) => k);
            const key = arrays.length > 0 && r.chance(0.8) ? r.pick(arrays) : r.pick([`${arch}.attention.head_count`, `${arch}.attention.head_count_kv`, `${arch}.feed_forward_length`]);
            const old = getKv(g, key);
            const v = old != null && old.type === GgufType.ARRAY ? mutateArray(r, old, nLayer) : mutateArray(r, arrayValue(GgufType.UINT32, Array.from({ length: nLayer }, () => old != null && old.type === GgufType.UINT32 ? (old as { value: number }).value : 4)) as GgufValue & { type: GgufType.ARRAY }, nLayer);
            setKv(g, key, v);
            return `array ${key} mutated`;
        }
        case 8: { // new arch keys llama.cpp reads
            const key = `${arch}.${r.pick(["expert_count", "expert_used_count", "nextn_predict_layers", "attention.key_length", "attention.value_length", "rope.dimension_count", "embedding_length_out", "rope.scaling.factor", "rope.scaling.original_context_length", "vocab_size", "attention.sliding_window", "expert_group_count"])}`;
            setKv(g, key, randomScalar(r, { type: GgufType.UINT32, value: 64 }));
            return `added ${key}`;
        }
        case 9: case 10: { // tensor dims
            const t = r.pick(g.tensors);
            const op = r.int(6);
            if (op === 0 && t.dims.length > 1) t.dims.reverse();
            else if (op === 1) t.dims[r.int(t.dims.length)] = r.pick([1n, 2n, 32n, 63n, 64n, 65n, 96n, 128n, 256n, 0n, 2n ** 40n, 2n ** 63n]);
            else if (op === 2 && t.dims.length < 4) t.dims.push(r.pick([1n, 2n]));
            else if (op === 3 && t.dims.length > 1) t.dims.pop();
            else if (op === 4) t.dims = [t.dims.reduce((a, b) => a * b, 1n)];
            else t.dims[0] = t.dims[0]! * 2n;
            return `tensor ${t.name} dims ${t.dims.join("x")}`;
        }
        case 11: case 12: { // tensor type
            const t = r.pick(g.tensors);
            t.type = r.chance(0.9) ? r.pick(ALL_TYPES) : r.pick([4, 5, 31, 99, 2 ** 31]);
            return `tensor ${t.name} type ${t.type}`;
        }
        case 13: { // drop or duplicate a tensor
            const i = r.int(g.tensors.length);
            if (r.chance(0.5)) { const [t] = g.tensors.splice(i, 1); return `dropped tensor ${t!.name}`; }
            g.tensors.push({ ...g.tensors[i]!, dims: [...g.tensors[i]!.dims] });
            return `duplicated tensor ${g.tensors[i]!.name}`;
        }
        case 14: { // rename a tensor
            const t = r.pick(g.tensors);
            const old = t.name;
            t.name = r.pick([`blk.${nLayer}.attn_norm.weight`, `blk.${r.int(600)}.ffn_up.weight`, "output.weight", "rope_freqs.weight", "blk.0.attn_qkv.weight", "blk.0.attn_q_norm.weight", "token_embd.weight", "x".repeat(70), "", `${t.name}x`, "blk.0.ffn_gate_inp.weight", "output.bias"]);
            return `renamed tensor ${old} to ${t.name}`;
        }
        case 15: { // swap two tensors' names
            const a = r.pick(g.tensors), b = r.pick(g.tensors);
            [a.name, b.name] = [b.name, a.name];
            return `swapped tensors ${a.name} and ${b.name}`;
        }
        case 16: { // the input table keys
            const key = r.pick(["hearth.input_embd.rows", "hearth.input_embd.embd", "hearth.input_embd.offset", "hearth.input_embd.type"]);
            const v: GgufValue = key === "hearth.input_embd.type" ? { type: GgufType.UINT32, value: r.pick(ALL_TYPES.concat([99, 4])) } : { type: GgufType.UINT64, value: r.pick(INTERESTING_U64.concat([64n, 65n, 32000n, 31999n, 32001n, 1n])) };
            setKv(g, key, v);
            if (key === "hearth.input_embd.offset") g.keepInputOffset = true;
            return `${key} = ${String((v as { value: unknown }).value)}`;
        }
        case 17: { // stage keys
            const key = r.pick(["hearth.stage.layer_start", "hearth.stage.layer_end", "hearth.stage.layer_total", "hearth.stage.first", "hearth.stage.last", "hearth.stage.version", `${arch}.block_count`]);
            const old = getKv(g, key);
            const v: GgufValue = old?.type === GgufType.BOOL && r.chance(0.7) ? { type: GgufType.BOOL, value: !(old.value as boolean) } : { type: GgufType.UINT32, value: r.pick([0, 1, 2, 3, 4, 512, 513, 2 ** 32 - 1]) };
            setKv(g, key, v);
            return `${key} = ${String(v.value)}`;
        }
        case 18: { g.truncateBy = BigInt(1 + r.int(4096)); return `truncated by ${g.truncateBy}`; }
        default: { // tokenizer arrays specifically
            const key = r.pick(["tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type", "tokenizer.ggml.merges"]);
            const old = getKv(g, key);
            if (old == null || old.type !== GgufType.ARRAY) { setKv(g, key, randomScalar(r)); return `${key} = scalar`; }
            setKv(g, key, mutateArray(r, old, nLayer));
            return `array ${key} mutated`;
        }
    }
}

/** Flips random bytes in the header region of a file (copying it first). */
export function flipHeaderBytes(r: Random, file: string, out: string): string {
    const b = fs.readFileSync(file);
    const h = readGgufHeader(file);
    const end = Number(h.dataOffset);
    const n = 1 + r.int(8);
    const at: number[] = [];
    // the tensor infos sit at the end of the header, the fixed fields at its start
    const infoStart = Math.max(0, end - 96 * h.tensors.length - 64);
    for (let i = 0; i < n; i++) {
        const region = r.int(3);
        const p = region === 0 ? r.int(Math.min(end, 2048)) : region === 1 ? infoStart + r.int(end - infoStart) : r.int(end);
        at.push(p);
        b[p] = r.chance(0.5) ? b[p]! ^ (1 << r.int(8)) : r.int(256);
    }
    fs.writeFileSync(out, b);
    return `flipped header bytes at ${at.join(",")}`;
}
