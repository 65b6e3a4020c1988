// Writes a pipeline stage file: the layers [start, end) of a GGUF model, renamed to blk.0…,
// with the metadata llama.cpp needs to run them alone (see DESIGN.md, "A pipeline stage").
// Tensor data is copied by byte range through one small buffer, so memory stays bounded.
import fs from "node:fs";
import path from "node:path";
import { GgufType, bool, kvNumber, kvString, str, u32, u64, type GgufHeader, type GgufValue } from "../gguf/format.ts";
import { arrayItems, arrayValue } from "../gguf/arrays.ts";
import { GgmlType } from "../gguf/ggml-types.ts";
import { readGgufHeader } from "../gguf/reader.ts";
import { SequentialFileWriter, layoutGguf, type TensorSpec } from "../gguf/writer.ts";
import { ARCHITECTURE_TRAITS, PER_LAYER_KEYS, allowedSplitPoints, checkArchitectureSupported, splitPointRule } from "./architectures.ts";
import { checkModelHeader } from "./model-check.ts";
import { formatBytes } from "../util/format.ts";

export interface LayerRange { start: number; end: number }

export interface SliceProgress { phase: "slicing"; file: string; bytesDone: number; bytesTotal: number }

export interface SliceOptions { onProgress?: (p: SliceProgress) => void; chunkBytes?: number; signal?: AbortSignal }

export interface StageFileInfo {
    path: string;
    range: LayerRange;
    totalLayers: number;
    first: boolean;
    last: boolean;
    bytes: number;
}

/** Version of the stage file layout; part of every cache key, so a changed layout is never mixed with an old one. */
export const STAGE_FORMAT_VERSION = 1;

export const STAGE_KEYS = {
    version: "hearth.stage.version",
    layerStart: "hearth.stage.layer_start",
    layerEnd: "hearth.stage.layer_end",
    layerTotal: "hearth.stage.layer_total",
    first: "hearth.stage.first",
    last: "hearth.stage.last",
    inputType: "hearth.input_embd.type",
    inputRows: "hearth.input_embd.rows",
    inputEmbd: "hearth.input_embd.embd",
    inputOffset: "hearth.input_embd.offset",
    /** first stage of a graph that scales token-id input by sqrtf(n_embd) (gemma3): the stage scales the rows it looks up */
    scaleInput: "hearth.stage.scale_input",
    /** later stage of a graph that scales every input by sqrtf(n_embd) (gemma2): the tensor the stage overwrites with its input */
    restoreInput: "hearth.stage.restore_input"
} as const;

/** The graph tensor that holds the scaled input embeddings (llama.cpp src/models/gemma2.cpp: cb(inpL, "inp_scaled", -1)). */
export const SCALED_INPUT_TENSOR = "inp_scaled";

const BLOCK_RE = /^blk\.(\d+)\.(.+)$/;

export function modelLayerCount(h: GgufHeader, file: string): number {
    const arch = kvString(h, "general.architecture");
    const n = arch == null ? undefined : kvNumber(h, `${arch}.block_count`);
    if (n == null || !Number.isInteger(n) || n <= 0) throw new Error(`${file}: the GGUF has no valid ${arch}.block_count`);
    return n;
}

export function parseLayerRanges(text: string, totalLayers?: number): LayerRange[] {
    const ranges = text.split(",").map((part) => {
        const m = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(part);
        if (m == null) throw new Error(`bad layer range '${part}': write ranges like 0-3,3-8 (start inclusive, end exclusive)`);
        return { start: Number(m[1]), end: Number(m[2]) };
    });
    ranges.forEach((r, i) => {
        if (r.end <= r.start) throw new Error(`layer range ${r.start}-${r.end} is empty`);
        const prev = ranges[i - 1];
        if (prev != null && prev.end !== r.start) throw new Error(`layer ranges must be contiguous: ${prev.start}-${prev.end} is followed by ${r.start}-${r.end}`);
    });
    if (ranges[0]!.start !== 0) throw new Error("the first layer range must start at layer 0");
    if (totalLayers != null && ranges.at(-1)!.end !== totalLayers)
        throw new Error(`the layer ranges end at layer ${ranges.at(-1)!.end} but the model has ${totalLayers} layers`);
    return ranges;
}

export function validateRange(range: LayerRange, totalLayers: number, file: string) {
    if (!Number.isInteger(range.start) || !Number.isInteger(range.end) || range.start < 0 || range.end > totalLayers || range.start >= range.end)
        throw new Error(`${file}: layer range ${range.start}-${range.end} is out of bounds: the model has layers 0-${totalLayers} (end exclusive)`);
}

async function ensureFreeSpace(dir: string, bytes: number) {
    const s = await fs.promises.statfs(dir);
    const free = s.bavail * s.bsize;
    if (free < bytes + 64 * 1024 * 1024)
        throw new Error(`not enough disk space in ${dir}: ${formatBytes(free)} free, the stage file needs ${formatBytes(bytes)}. Free some space or choose another data folder.`);
}

export async function sliceStage(modelPath: string, range: LayerRange, outPath: string, opts: SliceOptions = {}): Promise<StageFileInfo> {
    const h = readGgufHeader(modelPath);
    checkModelHeader(h, modelPath, { role: "model" });
    const arch = kvString(h, "general.architecture");
    checkArchitectureSupported(arch, modelPath);
    const total = modelLayerCount(h, modelPath);
    validateRange(range, total, modelPath);
    checkSplitPoints(h.kv, range, total, modelPath);
    const traits = ARCHITECTURE_TRAITS[arch];
    const first = range.start === 0;
    const last = range.end === total;
    const tensorByName = new Map(h.tensors.map((t) => [t.name, t]));
    const tokenEmbd = tensorByName.get("token_embd.weight");
    if (tokenEmbd == null || tokenEmbd.dims.length !== 2) throw new Error(`${modelPath}: the model has no 2-D token_embd.weight`);
    if (!tensorByName.has("output_norm.weight")) throw new Error(`${modelPath}: the model has no output_norm.weight`);
    const nEmbd = tokenEmbd.dims[0]!;

    // Metadata.
    const kv = new Map<string, GgufValue>();
    for (const [key, value] of h.kv) {
        if (!last && key.startsWith("tokenizer.")) continue;
        if (key.startsWith(`${arch}.`) && value.type === GgufType.ARRAY && value.count === total && total > 1) {
            const suffix = key.slice(arch.length + 1);
            if (!PER_LAYER_KEYS.has(suffix))
                throw new Error(`${modelPath}: metadata ${key} has one value per layer but Hearth does not know whether it is per-layer; cannot slice safely`);
            kv.set(key, arrayValue(value.itemType, arrayItems(value).slice(range.start, range.end)));
            continue;
        }
        kv.set(key, value);
    }
    kv.set(`${arch}.block_count`, u32(range.end - range.start));
    if (!last) {
        kv.set("tokenizer.ggml.model", str("none"));
        kv.set(`${arch}.vocab_size`, u32(1));
    }
    kv.set(STAGE_KEYS.version, u32(STAGE_FORMAT_VERSION));
    kv.set(STAGE_KEYS.layerStart, u32(range.start));
    kv.set(STAGE_KEYS.layerEnd, u32(range.end));
    kv.set(STAGE_KEYS.layerTotal, u32(total));
    kv.set(STAGE_KEYS.first, bool(first));
    kv.set(STAGE_KEYS.last, bool(last));
    if (first && traits.inputScale === "tokens") kv.set(STAGE_KEYS.scaleInput, bool(true));
    if (!first && traits.inputScale === "always") kv.set(STAGE_KEYS.restoreInput, str(SCALED_INPUT_TENSOR));
    if (first) {
        kv.set(STAGE_KEYS.inputType, u32(tokenEmbd.type));
        kv.set(STAGE_KEYS.inputRows, u64(tokenEmbd.dims[1]!));
        kv.set(STAGE_KEYS.inputEmbd, u64(nEmbd));
        kv.set(STAGE_KEYS.inputOffset, u64(0)); // set below, once the layout is known
    }

    // Tensors, each with where its bytes come from (null: zeros).
    type Plan = TensorSpec & { source: { offset: bigint; size: bigint } | null };
    const plan: Plan[] = [];
    const head = tensorByName.get("output.weight") ?? tokenEmbd;
    if (traits.separateHead) {
        // llama.cpp requires output.weight of this architecture and never reads token_embd.weight
        // here (every stage is fed embeddings): the last stage gets the real head and a zero
        // token_embd.weight of the smallest type (mapped, never touched), the others 1-row dummies.
        if (!tensorByName.has("output.weight")) throw new Error(`${modelPath}: the ${arch} model has no output.weight`);
        const dummyType = nEmbd % 32n === 0n ? GgmlType.Q4_0 : GgmlType.F16;
        if (last) {
            plan.push({ name: "token_embd.weight", dims: tokenEmbd.dims, type: dummyType, source: null });
            plan.push({ name: "output.weight", dims: head.dims, type: head.type, source: { offset: h.dataOffset + head.offset, size: head.size } });
        } else {
            plan.push({ name: "token_embd.weight", dims: [nEmbd, 1n], type: GgmlType.F32, source: null });
            plan.push({ name: "output.weight", dims: [nEmbd, 1n], type: GgmlType.F32, source: null });
        }
    } else if (last) plan.push({ name: "token_embd.weight", dims: head.dims, type: head.type, source: { offset: h.dataOffset + head.offset, size: head.size } });
    else plan.push({ name: "token_embd.weight", dims: [nEmbd, 1n], type: GgmlType.F32, source: null });
    for (const t of h.tensors) {
        const m = BLOCK_RE.exec(t.name);
        const source = { offset: h.dataOffset + t.offset, size: t.size };
        if (m != null) {
            const layer = Number(m[1]);
            if (layer >= total) throw new Error(`${modelPath}: tensor ${t.name} names layer ${layer} but the model has ${total} layers`);
            if (layer >= range.start && layer < range.end)
                plan.push({ name: `blk.${layer - range.start}.${m[2]}`, dims: t.dims, type: t.type, source });
        } else if (t.name !== "token_embd.weight" && t.name !== "output.weight") {
            plan.push({ name: t.name, dims: t.dims, type: t.type, source }); // output_norm and globals such as rope_freqs
        }
    }

    let layout = layoutGguf(kv, plan, h.alignment);
    const inputOffset = layout.end;
    if (first) {
        kv.set(STAGE_KEYS.inputOffset, u64(inputOffset));
        layout = layoutGguf(kv, plan, h.alignment);
        if (layout.end !== inputOffset) throw new Error("internal: stage layout changed size");
    }
    const inputSource = first ? { offset: h.dataOffset + tokenEmbd.offset, size: tokenEmbd.size } : null;
    const totalBytes = Number(layout.end + (inputSource?.size ?? 0n));

    await fs.promises.mkdir(path.dirname(path.resolve(outPath)), { recursive: true });
    await ensureFreeSpace(path.dirname(path.resolve(outPath)), totalBytes);
    const partial = `${outPath}.partial`;
    const out = await SequentialFileWriter.create(partial);
    const src = await fs.promises.open(modelPath, "r");
    const chunk = Buffer.alloc(opts.chunkBytes ?? 4 * 1024 * 1024);
    let done = 0;
    const report = () => opts.onProgress?.({ phase: "slicing", file: outPath, bytesDone: done, bytesTotal: totalBytes });
    const copy = async (offset: bigint, size: bigint) => {
        let pos = offset;
        const end = offset + size;
        while (pos < end) {
            if (opts.signal?.aborted) throw opts.signal.reason;
            const n = Number(end - pos < BigInt(chunk.length) ? end - pos : BigInt(chunk.length));
            const { bytesRead } = await src.read(chunk, 0, n, Number(pos));
            if (bytesRead !== n) throw new Error(`${modelPath}: file is truncated (short read at byte ${pos})`);
            await out.write(chunk.subarray(0, n));
            pos += BigInt(n);
            done += n;
            report();
        }
    };
    try {
        await out.write(layout.header);
        for (const [i, t] of plan.entries()) {
            await out.padTo(layout.tensorOffsets[i]!);
            if (t.source == null) await out.write(Buffer.alloc(Number(layout.tensorSizes[i]!)));
            else await copy(t.source.offset, t.source.size);
        }
        await out.padTo(layout.end);
        if (inputSource != null) await copy(inputSource.offset, inputSource.size);
        done = totalBytes;
        report();
        await out.close();
        await fs.promises.rename(partial, outPath);
    } catch (e) {
        await out.abort();
        throw e;
    } finally {
        await src.close();
    }
    return { path: outPath, range, totalLayers: total, first, last, bytes: totalBytes };
}

/** Refuses a range that would split the model where its architecture does not allow (architectures.ts allowedSplitPoints). */
export function checkSplitPoints(kv: ReadonlyMap<string, GgufValue>, range: LayerRange, totalLayers: number, file: string) {
    const allowed = new Set(allowedSplitPoints(kv));
    for (const k of [range.start, range.end]) {
        if (k === 0 || k === totalLayers || allowed.has(k)) continue;
        const rule = splitPointRule(kv);
        const list = allowed.size === 0 ? "none: run it on a single machine" : [...allowed].join(", ");
        throw new Error(`${file}: layers ${range.start}-${range.end} would split the model at layer ${k}, which is not allowed: ${rule?.reason ?? "unknown rule"}. ` +
            `Allowed split points: ${list}.`);
    }
}

/** The stage-specific metadata of a stage file, or null when the file is a plain model. */
export function readStageMetadata(h: GgufHeader) {
    if (h.kv.get(STAGE_KEYS.version) == null) return null;
    const num = (k: string) => kvNumber(h, k) ?? NaN;
    const b = (k: string) => { const v = h.kv.get(k); return v != null && v.type === GgufType.BOOL && v.value === true; };
    const first = b(STAGE_KEYS.first);
    return {
        layerStart: num(STAGE_KEYS.layerStart),
        layerEnd: num(STAGE_KEYS.layerEnd),
        layerTotal: num(STAGE_KEYS.layerTotal),
        first,
        last: b(STAGE_KEYS.last),
        inputTable: first ? {
            type: num(STAGE_KEYS.inputType),
            rows: num(STAGE_KEYS.inputRows),
            embd: num(STAGE_KEYS.inputEmbd),
            offset: num(STAGE_KEYS.inputOffset)
        } : null
    };
}
