// ggml tensor types as stored in GGUF files: block size (elements) and bytes per block.
// Mirrors ggml's type traits; test/gguf.test.ts checks this table against the linked ggml.
export interface GgmlTypeInfo { id: number; name: string; blockSize: number; typeSize: number }

const table: Array<[number, string, number, number]> = [
    [0, "f32", 1, 4], [1, "f16", 1, 2], [2, "q4_0", 32, 18], [3, "q4_1", 32, 20],
    [6, "q5_0", 32, 22], [7, "q5_1", 32, 24], [8, "q8_0", 32, 34], [9, "q8_1", 32, 36],
    [10, "q2_K", 256, 84], [11, "q3_K", 256, 110], [12, "q4_K", 256, 144], [13, "q5_K", 256, 176],
    [14, "q6_K", 256, 210], [15, "q8_K", 256, 292], [16, "iq2_xxs", 256, 66], [17, "iq2_xs", 256, 74],
    [18, "iq3_xxs", 256, 98], [19, "iq1_s", 256, 50], [20, "iq4_nl", 32, 18], [21, "iq3_s", 256, 110],
    [22, "iq2_s", 256, 82], [23, "iq4_xs", 256, 136], [24, "i8", 1, 1], [25, "i16", 1, 2],
    [26, "i32", 1, 4], [27, "i64", 1, 8], [28, "f64", 1, 8], [29, "iq1_m", 256, 56], [30, "bf16", 1, 2],
    [34, "tq1_0", 256, 54], [35, "tq2_0", 256, 66], [39, "mxfp4", 32, 17], [40, "nvfp4", 64, 36],
    [41, "q1_0", 128, 18], [42, "q2_0", 64, 18]
];

export const GGML_TYPES: ReadonlyMap<number, GgmlTypeInfo> = new Map(
    table.map(([id, name, blockSize, typeSize]) => [id, { id, name, blockSize, typeSize }])
);

export const GgmlType = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, BF16: 30 } as const;

export function ggmlTypeInfo(id: number): GgmlTypeInfo {
    const info = GGML_TYPES.get(id);
    if (info == null) throw new Error(`ggml type ${id} is not known to Hearth`);
    return info;
}

/** Bytes of a tensor with dimensions `dims` (ne0 first) stored as ggml type `type`. */
export function tensorBytes(type: number, dims: readonly bigint[] | readonly number[]): bigint {
    const info = ggmlTypeInfo(type);
    const ne = dims.map((d) => BigInt(d));
    const ne0 = ne[0] ?? 1n;
    if (ne0 % BigInt(info.blockSize) !== 0n)
        throw new Error(`tensor row of ${ne0} elements is not a multiple of the ${info.name} block size ${info.blockSize}`);
    let bytes = (ne0 / BigInt(info.blockSize)) * BigInt(info.typeSize);
    for (const d of ne.slice(1)) bytes *= d;
    return bytes;
}
