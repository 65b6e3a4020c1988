// Loads the stage-runtime addon (native/), after node-llama-cpp has loaded llama.cpp.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { getLlamaInstance } from "./llama.ts";
import { unpackedPath } from "../util/package-paths.ts";
import { addonFile } from "../../native/addon-files.mjs";

export interface NativeSegment {
    seqId: number;
    pos: number;
    n: number;
    /** 0 none, 1 last token, 2 all tokens */
    logits?: 0 | 1 | 2;
    sample?: boolean;
    accept?: Int32Array;
}

export interface NativeForwardRequest {
    /**
     * Sequences in any order, each at most once. The addon decodes them in groups llama.cpp keeps
     * whole (runs of single-token segments with consecutive sequence ids together, any other
     * segment alone) and returns every output in this order.
     */
    segments: NativeSegment[];
    /** concatenated in segment order */
    tokens?: Int32Array;
    hidden?: Float32Array;
    outputHidden?: boolean;
}

export interface NativeForwardResult {
    nTokens: number;
    computeMs: number;
    hidden?: Float32Array;
    segments: Array<{ logits?: Float32Array; token?: number }>;
}

export interface NativeSamplerParams {
    temperature?: number; topK?: number; topP?: number; minP?: number;
    repeatPenalty?: number; repeatLastN?: number; frequencyPenalty?: number; presencePenalty?: number; seed?: number;
}

export interface NativeStageInfo {
    description: string; nEmbd: number; nLayer: number; nVocab: number; modelBytes: number;
    contextSize: number; maxSequences: number; inputTableBytes: number;
    sequences: Array<{ seqId: number; nextPos: number }>;
}

/**
 * A loaded stage. It computes on a thread of its own (not libuv's pool). Calls must be serialized:
 * while a forward runs, every other call but dispose throws "stage is busy". Numbers are checked
 * natively: a NaN, fraction or out-of-range value is a RangeError naming its key.
 */
export interface NativeStage {
    forward(req: NativeForwardRequest): Promise<NativeForwardResult>;
    removeSequence(seqId: number, fromPos?: number): boolean;
    setSampler(seqId: number, params: NativeSamplerParams | null): void;
    info(): NativeStageInfo;
    /**
     * Frees the model and context. While a forward runs, it asks it to abort and frees when it has
     * ended (its promise then settles, usually rejected as aborted); the stage refuses every call
     * from the moment dispose is called. Calling it again does nothing.
     */
    dispose(): void;
}

export interface NativeStageOptions {
    gpuLayers?: number; contextSize?: number; batchSize?: number; maxSequences?: number; threads?: number;
    /** -1 auto, 0 off, 1 on */
    flashAttention?: number;
    /** 0-100: how long idle CPU worker threads spin before sleeping */
    threadPolling?: number;
    /** the input embedding table at the end of a first-stage file; checked against the file's size before anything is read */
    inputTable?: { offset: number; type: number; rows: number; embd: number };
}

export interface NativeAddon {
    loadStage(path: string, options: NativeStageOptions): Promise<NativeStage>;
    quantize(inPath: string, outPath: string, ftype: number, threads?: number): Promise<void>;
    systemInfo(): { llamaSystemInfo: string; devices: Array<{ name: string; description: string; type: string; freeBytes: number; totalBytes: number }> };
    ensureBackends(libDir?: string): number;
    f32ToF16(values: Float32Array): Uint8Array;
    f16ToF32(bytes: Uint8Array): Float32Array;
    typeTraits(): Array<{ id: number; name: string; blockSize: number; typeSize: number }>;
    Stage: unknown;
}

const nativeDir = unpackedPath(path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "native"));
let addon: Promise<NativeAddon> | null = null;

/** The llama.cpp backend node-llama-cpp chose for this process, as the addon's folder names it. */
export function addonBackend(gpu: false | string): string {
    return gpu === false ? "cpu" : gpu;
}

/**
 * Loads the addon built for the backend node-llama-cpp chose (native/out/<backend>/, one per
 * backend: see scripts/build-native.mjs). It links the libraries of the same names that
 * node-llama-cpp has loaded already, so both share one llama.cpp and its GPU.
 */
export function loadAddon(): Promise<NativeAddon> {
    addon ??= getLlamaInstance().then((llama) => loadAddonFrom(nativeDir, addonBackend(llama.gpu)));
    return addon;
}

/** Loads `<nativeDir>/out/<backend>/hearth_stage.node`; fails with one line naming the backend and the file. */
export function loadAddonFrom(dir: string, backend: string): NativeAddon {
    const file = addonFile(dir, backend);
    if (!fs.existsSync(file))
        throw new Error(`the stage runtime for llama.cpp's ${backend} backend is missing (${file}): run 'npm run build:native' (it builds one per backend installed)`);
    let mod: NativeAddon;
    try {
        mod = createRequire(import.meta.url)(file) as NativeAddon;
    } catch (e) {
        throw new Error(`the stage runtime for llama.cpp's ${backend} backend (${file}) did not load: ${String((e as Error).message).split("\n")[0]}`);
    }
    const configFile = path.join(path.dirname(file), "build-config.json");
    const libDir = fs.existsSync(configFile)
        ? path.resolve(path.dirname(file), (JSON.parse(fs.readFileSync(configFile, "utf8")) as { libDir: string }).libDir)
        : undefined;
    if (mod.ensureBackends(libDir) === 0)
        throw new Error(`llama.cpp's ${backend} backend has no compute device loaded (not even the CPU) from ${libDir ?? "node-llama-cpp"}`);
    return mod;
}
