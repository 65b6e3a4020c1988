// Loads the stage-runtime addon (native/), after node-llama-cpp has loaded llama.cpp.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { getLlamaInstance } from "./llama.ts";

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

export interface NativeStage {
    forward(req: NativeForwardRequest): Promise<NativeForwardResult>;
    removeSequence(seqId: number, fromPos?: number): boolean;
    setSampler(seqId: number, params: NativeSamplerParams | null): void;
    info(): NativeStageInfo;
    dispose(): void;
}

export interface NativeStageOptions {
    gpuLayers?: number; contextSize?: number; batchSize?: number; maxSequences?: number; threads?: number;
    /** -1 auto, 0 off, 1 on */
    flashAttention?: number;
    /** 0-100: how long idle CPU worker threads spin before sleeping */
    threadPolling?: number;
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

const nativeDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "native");
let addon: Promise<NativeAddon> | null = null;

export function loadAddon(): Promise<NativeAddon> {
    addon ??= (async () => {
        await getLlamaInstance();
        const file = path.join(nativeDir, "build", "Release", "hearth_stage.node");
        if (!fs.existsSync(file))
            throw new Error(`the stage runtime addon is not built (${file} is missing): run 'npm run build:native'`);
        const mod = createRequire(import.meta.url)(file) as NativeAddon;
        const configFile = path.join(nativeDir, "build-config.json");
        const libDir = fs.existsSync(configFile) ? (JSON.parse(fs.readFileSync(configFile, "utf8")) as { libDir: string }).libDir : undefined;
        if (mod.ensureBackends(libDir) === 0) throw new Error("llama.cpp has no compute backend loaded (not even the CPU one)");
        return mod;
    })();
    return addon;
}
