// Reads a GGUF header (metadata and tensor infos) through a small buffer: memory use does not
// depend on the file's size, and every inconsistency is reported with the file's name.
import fs from "node:fs";
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GgufType, alignUp, type GgufHeader, type GgufScalar, type GgufTensorInfo, type GgufValue } from "./format.ts";
import { GGML_TYPES, tensorBytes } from "./ggml-types.ts";

export class GgufError extends Error {
    constructor(readonly file: string, message: string) {
        super(`${file}: ${message}`);
        this.name = "GgufError";
    }
}

const MAX_KV = 1_000_000;
const MAX_TENSORS = 1_000_000;
const MAX_ARRAY = 100_000_000;
const MAX_DIMS = 4;
const FIXED_SIZES: Partial<Record<number, number>> = {
    [GgufType.UINT8]: 1, [GgufType.INT8]: 1, [GgufType.UINT16]: 2, [GgufType.INT16]: 2, [GgufType.UINT32]: 4, [GgufType.INT32]: 4,
    [GgufType.FLOAT32]: 4, [GgufType.BOOL]: 1, [GgufType.UINT64]: 8, [GgufType.INT64]: 8, [GgufType.FLOAT64]: 8
};

/** Where header bytes come from: a file, or a buffer holding a file's first bytes. */
type ReadAt = (buf: Buffer, offset: number, length: number, position: number) => number;

class BufferedFile {
    private buf = Buffer.alloc(1 << 20);
    private start = 0n; // file offset of buf[0]
    private len = 0;
    pos = 0n;

    constructor(private readonly readAt: ReadAt, readonly size: bigint, private readonly fail: (m: string) => never) {}

    private ensure(n: number): number {
        const rel = Number(this.pos - this.start);
        if (rel >= 0 && rel + n <= this.len) return rel;
        if (this.pos + BigInt(n) > this.size)
            this.fail(`file is truncated: needs ${this.pos + BigInt(n)} bytes, has ${this.size}`);
        if (n > this.buf.length) this.buf = Buffer.alloc(n);
        this.start = this.pos;
        this.len = this.readAt(this.buf, 0, this.buf.length, Number(this.pos));
        if (this.len < n) this.fail("file is truncated");
        return 0;
    }
    private take(n: number): number { const r = this.ensure(n); this.pos += BigInt(n); return r; }
    u8() { return this.buf.readUInt8(this.take(1)); }
    i8() { return this.buf.readInt8(this.take(1)); }
    u16() { return this.buf.readUInt16LE(this.take(2)); }
    i16() { return this.buf.readInt16LE(this.take(2)); }
    u32() { return this.buf.readUInt32LE(this.take(4)); }
    i32() { return this.buf.readInt32LE(this.take(4)); }
    f32() { return this.buf.readFloatLE(this.take(4)); }
    f64() { return this.buf.readDoubleLE(this.take(8)); }
    u64() { return this.buf.readBigUInt64LE(this.take(8)); }
    i64() { return this.buf.readBigInt64LE(this.take(8)); }
    skip(n: bigint) {
        if (this.pos + n > this.size) this.fail(`file is truncated: ${n} bytes run past the end`);
        this.pos += n;
    }
    /** Bytes [start, end) of the file, read directly. */
    range(start: bigint, end: bigint): Buffer {
        const out = Buffer.alloc(Number(end - start));
        let done = 0;
        while (done < out.length) {
            const n = this.readAt(out, done, out.length - done, Number(start) + done);
            if (n <= 0) this.fail("file is truncated");
            done += n;
        }
        return out;
    }
    bytes(n: bigint): Buffer {
        if (this.pos + n > this.size) this.fail(`file is truncated: a string of ${n} bytes runs past the end`);
        const len = Number(n);
        const r = this.take(len);
        return Buffer.from(this.buf.subarray(r, r + len));
    }
}

export function readGgufHeader(file: string): GgufHeader {
    const fail = (m: string): never => { throw new GgufError(file, m); };
    let fd: number;
    try {
        fd = fs.openSync(file, "r");
    } catch (e) {
        throw new GgufError(file, `cannot open: ${(e as Error).message}`);
    }
    try {
        const size = BigInt(fs.fstatSync(fd).size);
        return parseHeader(file, size, (buf, off, len, pos) => fs.readSync(fd, buf, off, len, pos), fail);
    } finally {
        fs.closeSync(fd);
    }
}

/**
 * Reads a header from the first bytes of a file (`head`) whose whole size is `fileSize`, e.g. a
 * stage header sent ahead of the file itself. Reading past `head` fails as truncation.
 */
export function readGgufHeaderFromBytes(head: Buffer, name: string, fileSize: bigint): GgufHeader {
    const fail = (m: string): never => { throw new GgufError(name, m); };
    return parseHeader(name, fileSize, (buf, off, len, pos) => {
        if (pos >= head.length) return 0;
        return head.copy(buf, off, pos, Math.min(head.length, pos + len));
    }, fail);
}

function parseHeader(file: string, size: bigint, readAt: ReadAt, fail: (m: string) => never): GgufHeader {
    {
        if (size < 24n) fail(`not a GGUF file (${size} bytes is too small for a GGUF header)`);
        const r = new BufferedFile(readAt, size, fail);
        const magic = r.u32();
        if (magic !== GGUF_MAGIC) fail("not a GGUF file (bad magic number)");
        const version = r.u32();
        if (version !== 2 && version !== 3) fail(`unsupported GGUF version ${version} (Hearth reads versions 2 and 3)`);
        const nTensors = r.u64();
        const nKv = r.u64();
        if (nTensors > BigInt(MAX_TENSORS)) fail(`implausible tensor count ${nTensors}: the header is corrupt`);
        if (nKv > BigInt(MAX_KV)) fail(`implausible metadata count ${nKv}: the header is corrupt`);

        const readString = () => r.bytes(r.u64());
        const readScalar = (type: number, key: string): GgufScalar => {
            switch (type) {
                case GgufType.UINT8: return r.u8();
                case GgufType.INT8: return r.i8();
                case GgufType.UINT16: return r.u16();
                case GgufType.INT16: return r.i16();
                case GgufType.UINT32: return r.u32();
                case GgufType.INT32: return r.i32();
                case GgufType.FLOAT32: return r.f32();
                case GgufType.BOOL: {
                    const b = r.u8();
                    if (b > 1) fail(`metadata ${key}: bool value ${b} is not 0 or 1`);
                    return b === 1;
                }
                case GgufType.STRING: return readString();
                case GgufType.UINT64: return r.u64();
                case GgufType.INT64: return r.i64();
                case GgufType.FLOAT64: return r.f64();
                default: return fail(`metadata ${key}: unknown value type ${type}`);
            }
        };

        const kv = new Map<string, GgufValue>();
        for (let i = 0n; i < nKv; i++) {
            const key = readString().toString("utf8");
            const type = r.u32();
            if (kv.has(key)) fail(`metadata key ${key} appears twice`);
            if (type === GgufType.ARRAY) {
                const itemType = r.u32();
                if (itemType === GgufType.ARRAY) fail(`metadata ${key}: nested arrays are not supported`);
                const n = r.u64();
                if (n > BigInt(MAX_ARRAY)) fail(`metadata ${key}: implausible array length ${n}`);
                const start = r.pos;
                const itemSize = FIXED_SIZES[itemType];
                if (itemType === GgufType.STRING) {
                    for (let j = 0n; j < n; j++) r.skip(r.u64());
                } else if (itemSize != null) {
                    r.skip(n * BigInt(itemSize));
                } else {
                    fail(`metadata ${key}: unknown array item type ${itemType}`);
                }
                kv.set(key, { type: GgufType.ARRAY, itemType, count: Number(n), raw: r.range(start, r.pos) });
            } else {
                kv.set(key, { type, value: readScalar(type, key) } as GgufValue);
            }
        }

        const alignValue = kv.get("general.alignment");
        let alignment = GGUF_DEFAULT_ALIGNMENT;
        if (alignValue != null) {
            if (alignValue.type === GgufType.ARRAY || typeof alignValue.value !== "number") return fail("general.alignment is not an integer");
            alignment = alignValue.value;
            if (alignment <= 0 || (alignment & (alignment - 1)) !== 0) fail(`general.alignment ${alignment} is not a power of two`);
        }

        const tensors: GgufTensorInfo[] = [];
        const names = new Set<string>();
        for (let i = 0n; i < nTensors; i++) {
            const name = readString().toString("utf8");
            if (names.has(name)) fail(`tensor ${name} appears twice`);
            names.add(name);
            const nDims = r.u32();
            if (nDims < 1 || nDims > MAX_DIMS) fail(`tensor ${name} has ${nDims} dimensions (1 to ${MAX_DIMS} allowed)`);
            const dims: bigint[] = [];
            for (let d = 0; d < nDims; d++) {
                const ne = r.u64();
                if (ne === 0n || ne > 1n << 40n) fail(`tensor ${name} has implausible dimension ${ne}`);
                dims.push(ne);
            }
            const type = r.u32();
            if (!GGML_TYPES.has(type)) fail(`tensor ${name} uses ggml type ${type}, which this version of Hearth does not know`);
            const offset = r.u64();
            if (offset % BigInt(alignment) !== 0n) fail(`tensor ${name} data offset ${offset} is not aligned to ${alignment}`);
            let size: bigint;
            try {
                size = tensorBytes(type, dims);
            } catch (e) {
                return fail(`tensor ${name}: ${(e as Error).message}`);
            }
            tensors.push({ name, dims, type, offset, size });
        }
        const dataOffset = alignUp(r.pos, alignment);
        for (const t of tensors) {
            const end = dataOffset + t.offset + t.size;
            if (end > size) fail(`file is truncated: tensor ${t.name} ends at byte ${end} but the file has ${size} bytes`);
        }
        return { version, kv, tensors, alignment, dataOffset, fileSize: size };
    }
}
