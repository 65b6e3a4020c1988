// Hidden states on the wire: raw little-endian f32 (exact) or f16 (half the bytes, not exact).
import type { NativeAddon } from "../native/addon.ts";
import type { DType } from "../protocol/proto.ts";

export function encodeHidden(addon: NativeAddon, values: Float32Array, dtype: DType): Buffer {
    if (dtype === "F16") { const b = addon.f32ToF16(values); return Buffer.from(b.buffer, b.byteOffset, b.byteLength); }
    return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
}

export function bytesPerValue(dtype: DType): number | null {
    return dtype === "F32" ? 4 : dtype === "F16" ? 2 : null;
}

export function decodeHidden(addon: NativeAddon, bytes: Buffer, dtype: DType): Float32Array {
    if (dtype === "F16") return addon.f16ToF32(bytes);
    const copy = new Float32Array(bytes.length / 4); // the protobuf buffer need not be 4-byte aligned
    new Uint8Array(copy.buffer).set(bytes);
    return copy;
}
