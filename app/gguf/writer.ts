// Writes GGUF files: the header is serialized in memory (metadata and tensor infos are small),
// tensor data is streamed in by the caller one tensor at a time.
import fs from "node:fs";
import { GGUF_MAGIC, GgufType, alignUp, type GgufScalar, type GgufValue } from "./format.ts";
import { tensorBytes } from "./ggml-types.ts";

export interface TensorSpec { name: string; dims: bigint[]; type: number }

export class ByteSink {
    private chunks: Buffer[] = [];
    length = 0;
    push(b: Buffer) { this.chunks.push(b); this.length += b.length; }
    u32(n: number) { const b = Buffer.alloc(4); b.writeUInt32LE(n); this.push(b); }
    u64(n: bigint) { const b = Buffer.alloc(8); b.writeBigUInt64LE(n); this.push(b); }
    string(s: Buffer | string) { const b = typeof s === "string" ? Buffer.from(s, "utf8") : s; this.u64(BigInt(b.length)); this.push(b); }
    scalar(type: GgufType, v: GgufScalar) {
        const b = Buffer.alloc(8);
        switch (type) {
            case GgufType.UINT8: b.writeUInt8(v as number); return this.push(b.subarray(0, 1));
            case GgufType.INT8: b.writeInt8(v as number); return this.push(b.subarray(0, 1));
            case GgufType.UINT16: b.writeUInt16LE(v as number); return this.push(b.subarray(0, 2));
            case GgufType.INT16: b.writeInt16LE(v as number); return this.push(b.subarray(0, 2));
            case GgufType.UINT32: b.writeUInt32LE(v as number); return this.push(b.subarray(0, 4));
            case GgufType.INT32: b.writeInt32LE(v as number); return this.push(b.subarray(0, 4));
            case GgufType.FLOAT32: b.writeFloatLE(v as number); return this.push(b.subarray(0, 4));
            case GgufType.BOOL: b.writeUInt8(v ? 1 : 0); return this.push(b.subarray(0, 1));
            case GgufType.STRING: return this.string(v as Buffer);
            case GgufType.UINT64: b.writeBigUInt64LE(BigInt(v as bigint)); return this.push(b);
            case GgufType.INT64: b.writeBigInt64LE(BigInt(v as bigint)); return this.push(b);
            case GgufType.FLOAT64: b.writeDoubleLE(v as number); return this.push(b);
            default: throw new Error(`cannot write GGUF value type ${type}`);
        }
    }
    toBuffer() { return Buffer.concat(this.chunks, this.length); }
}

export interface GgufLayout {
    header: Buffer;
    /** absolute offset of each tensor's data, in the order given */
    tensorOffsets: bigint[];
    tensorSizes: bigint[];
    /** absolute offset just past the last tensor, aligned: where trailing data may go */
    end: bigint;
}

/** Lays out a GGUF file. `kv` order is kept. Trailing data (if any) starts at `end`. */
export function layoutGguf(kv: Map<string, GgufValue>, tensors: TensorSpec[], alignment: number): GgufLayout {
    const s = new ByteSink();
    s.u32(GGUF_MAGIC);
    s.u32(3);
    s.u64(BigInt(tensors.length));
    s.u64(BigInt(kv.size));
    for (const [key, v] of kv) {
        s.string(key);
        s.u32(v.type);
        if (v.type === GgufType.ARRAY) {
            s.u32(v.itemType);
            s.u64(BigInt(v.count));
            s.push(v.raw);
        } else {
            s.scalar(v.type, v.value);
        }
    }
    const sizes = tensors.map((t) => tensorBytes(t.type, t.dims));
    const relOffsets: bigint[] = [];
    let rel = 0n;
    for (const [i, t] of tensors.entries()) {
        relOffsets.push(rel);
        s.string(t.name);
        s.u32(t.dims.length);
        for (const d of t.dims) s.u64(d);
        s.u32(t.type);
        s.u64(rel);
        rel = alignUp(rel + sizes[i]!, alignment);
    }
    const dataOffset = alignUp(BigInt(s.length), alignment);
    s.push(Buffer.alloc(Number(dataOffset) - s.length));
    return {
        header: s.toBuffer(),
        tensorOffsets: relOffsets.map((o) => dataOffset + o),
        tensorSizes: sizes,
        end: dataOffset + rel
    };
}

/** Sequential writer over a file descriptor that pads with zeros to reach requested offsets. */
export class SequentialFileWriter {
    private pos = 0n;
    private constructor(private readonly fh: fs.promises.FileHandle, readonly path: string) {}
    static async create(path: string) { return new SequentialFileWriter(await fs.promises.open(path, "w"), path); }
    get position() { return this.pos; }
    async write(b: Uint8Array) {
        let done = 0;
        while (done < b.length) {
            const { bytesWritten } = await this.fh.write(b, done, b.length - done);
            done += bytesWritten;
        }
        this.pos += BigInt(b.length);
    }
    async padTo(offset: bigint) {
        if (offset < this.pos) throw new Error(`internal: cannot seek back from ${this.pos} to ${offset}`);
        if (offset > this.pos) await this.write(Buffer.alloc(Number(offset - this.pos)));
    }
    async close() { await this.fh.sync(); await this.fh.close(); }
    async abort() { await this.fh.close().catch(() => {}); await fs.promises.rm(this.path, { force: true }); }
}
