// The GGUF container: value types, and the in-memory form of a file's header that keeps every
// value's exact type so that a header can be rewritten faithfully.
export const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
export const GGUF_DEFAULT_ALIGNMENT = 32;

export enum GgufType {
    UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7,
    STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12
}

/** Strings are kept as raw bytes: vocabularies may hold byte sequences that are not valid UTF-8. */
export type GgufScalar = number | bigint | boolean | Buffer;

export type GgufValue =
    | { type: Exclude<GgufType, GgufType.ARRAY>; value: GgufScalar }
    /** Arrays stay in their serialized form (one buffer, however many items): a tokenizer's
     * hundreds of thousands of strings cost one allocation. See arrays.ts to read or build them. */
    | { type: GgufType.ARRAY; itemType: Exclude<GgufType, GgufType.ARRAY>; count: number; raw: Buffer };

export interface GgufTensorInfo {
    name: string;
    dims: bigint[];
    type: number;
    /** offset of the data from the start of the data section */
    offset: bigint;
    /** bytes of data, from the type and dims */
    size: bigint;
}

export interface GgufHeader {
    version: number;
    kv: Map<string, GgufValue>;
    tensors: GgufTensorInfo[];
    alignment: number;
    /** absolute file offset of the data section */
    dataOffset: bigint;
    fileSize: bigint;
}

export const str = (s: string): GgufValue => ({ type: GgufType.STRING, value: Buffer.from(s, "utf8") });
export const u32 = (n: number): GgufValue => ({ type: GgufType.UINT32, value: n });
export const u64 = (n: bigint | number): GgufValue => ({ type: GgufType.UINT64, value: BigInt(n) });
export const f32 = (n: number): GgufValue => ({ type: GgufType.FLOAT32, value: n });
export const bool = (b: boolean): GgufValue => ({ type: GgufType.BOOL, value: b });

export function alignUp(n: bigint, alignment: number): bigint {
    const a = BigInt(alignment);
    return ((n + a - 1n) / a) * a;
}

export function kvString(h: GgufHeader, key: string): string | undefined {
    const v = h.kv.get(key);
    if (v == null) return undefined;
    if (v.type !== GgufType.STRING) throw new Error(`GGUF key ${key} is not a string`);
    return (v.value as Buffer).toString("utf8");
}

export function kvNumber(h: GgufHeader, key: string): number | undefined {
    const v = h.kv.get(key);
    if (v == null) return undefined;
    if (v.type === GgufType.ARRAY || v.type === GgufType.STRING || v.type === GgufType.BOOL)
        throw new Error(`GGUF key ${key} is not a number`);
    return Number(v.value);
}
