// llama.cpp's whole-file quantizations (general.file_type) and their bits per weight, to say how
// large a model would be in another quantization (pure). The figures are the file sizes llama.cpp's
// `llama-quantize` lists for Llama-3-8B (8.03 B parameters), as bits per parameter: they include
// the tensors each scheme keeps wider (Q4_K_M keeps some ffn_down / attn_v and the output in Q6_K),
// so the ratio of two of them scales a model's tensors to a good approximation.

export interface Quantization {
    /** as llama.cpp spells it: "Q4_K_M" */
    name: string;
    /** general.file_type (llama_ftype) */
    fileType: number;
    /** bits per parameter of a whole file in this quantization */
    bitsPerWeight: number;
}

/** Largest first. */
export const QUANTIZATIONS: readonly Quantization[] = Object.freeze([
    { name: "F32", fileType: 0, bitsPerWeight: 32 },
    { name: "F16", fileType: 1, bitsPerWeight: 16 },
    { name: "BF16", fileType: 32, bitsPerWeight: 16 },
    { name: "Q8_0", fileType: 7, bitsPerWeight: 8.52 },
    { name: "Q6_K", fileType: 18, bitsPerWeight: 6.57 },
    { name: "Q5_1", fileType: 9, bitsPerWeight: 6.04 },
    { name: "Q5_K_M", fileType: 17, bitsPerWeight: 5.70 },
    { name: "Q5_K_S", fileType: 16, bitsPerWeight: 5.57 },
    { name: "Q5_0", fileType: 8, bitsPerWeight: 5.57 },
    { name: "Q4_1", fileType: 3, bitsPerWeight: 5.11 },
    { name: "Q4_K_M", fileType: 15, bitsPerWeight: 4.90 },
    { name: "Q4_K_S", fileType: 14, bitsPerWeight: 4.68 },
    { name: "Q4_0", fileType: 2, bitsPerWeight: 4.64 },
    // IQ4_NL has Q4_0's block size (18 bytes per 32 weights) and mix: the same file size (checked by
    // test/quantizations.test.ts). IQ4_XS is 4.25 bits where Q4_0 is 4.5, on all but the Q6_K head
    // (6.5% of Llama-3-8B's weights): 4.64 - 0.25 × 0.935.
    { name: "IQ4_NL", fileType: 25, bitsPerWeight: 4.64 },
    { name: "IQ4_XS", fileType: 30, bitsPerWeight: 4.41 },
    { name: "Q3_K_L", fileType: 13, bitsPerWeight: 4.31 },
    { name: "Q3_K_M", fileType: 12, bitsPerWeight: 4.00 },
    { name: "Q3_K_S", fileType: 11, bitsPerWeight: 3.65 },
    { name: "Q2_K", fileType: 10, bitsPerWeight: 3.17 }
]);

/** The quantizations a smaller model is suggested in, largest first (the common K-quants). */
export const SUGGESTED_QUANTIZATIONS: readonly string[] = Object.freeze(["Q6_K", "Q5_K_M", "Q4_K_M", "Q4_K_S", "Q3_K_M", "Q3_K_S", "Q2_K"]);

/** The quantization of this name (case-insensitive: "q4_k_m" works), or undefined. */
export function quantizationByName(name: string): Quantization | undefined {
    const upper = name.toUpperCase();
    return QUANTIZATIONS.find((q) => q.name === upper);
}

/** The quantization of a general.file_type, or undefined (unknown or mixed types). */
export function quantizationByFileType(fileType: number | undefined): Quantization | undefined {
    return fileType === undefined ? undefined : QUANTIZATIONS.find((q) => q.fileType === fileType);
}
