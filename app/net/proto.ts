// The node-to-node contract (proto/hearth/v1/node.proto), loaded at run time with proto-loader.
// Request deserializers are wrapped: bytes that are not a valid message reach the handler as an
// InvalidMessage, which it answers with INVALID_ARGUMENT (grpc-js would otherwise say INTERNAL).
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

export const PROTOCOL_VERSION = 1;
const protoFile = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "proto", "hearth", "v1", "node.proto");

const definition = protoLoader.loadSync(protoFile, { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true });
const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    hearth: { v1: { Node: grpc.ServiceClientConstructor } };
};

export const NodeClientConstructor = loaded.hearth.v1.Node;

export class InvalidMessage {
    constructor(readonly reason: string) {}
}

export function guardedServiceDefinition(): grpc.ServiceDefinition {
    const service = NodeClientConstructor.service;
    const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
    for (const [name, method] of Object.entries(service)) {
        out[name] = {
            ...method,
            requestDeserialize: (bytes: Buffer) => {
                try {
                    return method.requestDeserialize(bytes);
                } catch (e) {
                    return new InvalidMessage(`malformed ${name} message: ${(e as Error).message}`);
                }
            }
        };
    }
    return out as grpc.ServiceDefinition;
}

// Message shapes as proto-loader gives them (camelCase, longs as numbers, enums as strings).
export interface LayerRangeMsg { start: number; end: number }
export interface StageOptionsMsg { contextSize: number; maxSequences: number; batchSize: number; threads: number; gpuLayers: number; flashAttention: boolean }
export interface SamplerMsg { temperature: number; topK: number; topP: number; minP: number; repeatPenalty: number; repeatLastN: number; frequencyPenalty: number; presencePenalty: number; seed: number }
export type DTypeName = "DTYPE_UNSPECIFIED" | "F32" | "F16";
export interface ActivationMsg {
    pipelineId: string; seqId: number; pos: number; nTokens: number; tokens: number[]; hidden: Buffer; dtype: DTypeName;
    sample: boolean; sampler: SamplerMsg | null; accept: number[]; step: number; stageMs: number[]; sentAtUs: number;
}
export interface StageErrorMsg { pipelineId: string; seqId: number; step: number; node: string; message: string; grpcCode: number }
export interface TokenEventMsg { seqId: number; step: number; token: number; stageMs: number[]; sentAtUs: number }
export interface StageStatusMsg { pipelineId: string; modelSha256: string; layerStart: number; layerEnd: number; layerTotal: number; liveSequences: number[]; batches: number; batchedSequences: number; batchesExactly: boolean }
export interface NodeInfoMsg {
    name: string; version: string; protocol: number; os: string; backend: string; totalMemoryBytes: number; freeMemoryBytes: number;
    cpuThreads: number; capabilities: string[]; stages: StageStatusMsg[];
}
export interface PrepareStageMsg {
    pipelineId: string; modelSha256: string; layers: LayerRangeMsg | null; layerTotal: number; stageSha256: string; stageBytes: number;
    options: StageOptionsMsg | null; nextAddress: string; coordinatorName: string; requiredMemoryBytes: number;
}
export interface PrepareReplyMsg { status: "READY" | "NEED_UPLOAD" | "STATUS_UNSPECIFIED"; resumeOffset: number; fromCache: boolean; loadMs: number }
export interface UploadHeaderMsg { modelSha256: string; layers: LayerRangeMsg | null; stageSha256: string; stageBytes: number }
export interface UploadChunkMsg { header: UploadHeaderMsg | null; offset: number; data: Buffer }
