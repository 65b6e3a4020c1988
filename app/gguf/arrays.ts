// Building and reading GGUF array values, which are kept in serialized form.
import { GgufType, type GgufScalar, type GgufValue } from "./format.ts";
import { ByteSink } from "./writer.ts";

type ItemType = Exclude<GgufType, GgufType.ARRAY>;

export function arrayValue(itemType: ItemType, items: readonly GgufScalar[]): GgufValue {
    const s = new ByteSink();
    for (const item of items) s.scalar(itemType, item);
    return { type: GgufType.ARRAY, itemType, count: items.length, raw: s.toBuffer() };
}

export function arrayItems(v: GgufValue): GgufScalar[] {
    if (v.type !== GgufType.ARRAY) throw new Error("not a GGUF array");
    const b = v.raw;
    const out: GgufScalar[] = new Array(v.count);
    let p = 0;
    for (let i = 0; i < v.count; i++) {
        switch (v.itemType) {
            case GgufType.UINT8: out[i] = b.readUInt8(p); p += 1; break;
            case GgufType.INT8: out[i] = b.readInt8(p); p += 1; break;
            case GgufType.UINT16: out[i] = b.readUInt16LE(p); p += 2; break;
            case GgufType.INT16: out[i] = b.readInt16LE(p); p += 2; break;
            case GgufType.UINT32: out[i] = b.readUInt32LE(p); p += 4; break;
            case GgufType.INT32: out[i] = b.readInt32LE(p); p += 4; break;
            case GgufType.FLOAT32: out[i] = b.readFloatLE(p); p += 4; break;
            case GgufType.BOOL: out[i] = b.readUInt8(p) !== 0; p += 1; break;
            case GgufType.UINT64: out[i] = b.readBigUInt64LE(p); p += 8; break;
            case GgufType.INT64: out[i] = b.readBigInt64LE(p); p += 8; break;
            case GgufType.FLOAT64: out[i] = b.readDoubleLE(p); p += 8; break;
            case GgufType.STRING: { const n = Number(b.readBigUInt64LE(p)); p += 8; out[i] = Buffer.from(b.subarray(p, p + n)); p += n; break; }
            default: throw new Error(`unknown GGUF array item type ${v.itemType as number}`);
        }
    }
    return out;
}
