// The node-to-node contract (proto/hearth/v1/node.proto), loaded with proto-loader; its message
// types are generated from the .proto (protocol/generated, by scripts/gen-proto-types.mjs).
// Request deserializers are wrapped: bytes that are not a valid message reach the handler as an
// InvalidMessage, which it answers with INVALID_ARGUMENT (grpc-js would otherwise say INTERNAL).
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import type { ProtoGrpcType } from "./generated/node.ts";
import { unpackedPath } from "../util/package-paths.ts";

export type * from "./generated/hearth/v1/Activation.ts";
export type * from "./generated/hearth/v1/ForwardMessage.ts";
export type * from "./generated/hearth/v1/PipelineEvent.ts";
export type * from "./generated/hearth/v1/NodeInfo.ts";
export type * from "./generated/hearth/v1/StageStatus.ts";
export type * from "./generated/hearth/v1/PrepareStageRequest.ts";
export type * from "./generated/hearth/v1/PrepareStageReply.ts";
export type * from "./generated/hearth/v1/UploadChunk.ts";
export type * from "./generated/hearth/v1/UploadReply.ts";
export type * from "./generated/hearth/v1/StageOptions.ts";
export type * from "./generated/hearth/v1/SamplerParams.ts";
export type * from "./generated/hearth/v1/StepResult.ts";
export type * from "./generated/hearth/v1/StepError.ts";
export type * from "./generated/hearth/v1/Release.ts";
export type * from "./generated/hearth/v1/HelloReply.ts";
export type * from "./generated/hearth/v1/JoinMessage.ts";
export type * from "./generated/hearth/v1/JoinChallenge.ts";
export type * from "./generated/hearth/v1/JoinRequestMessage.ts";
export type * from "./generated/hearth/v1/JoinAccept.ts";
export type * from "./generated/hearth/v1/MemberEntry.ts";
export type * from "./generated/hearth/v1/MemberList.ts";
export type * from "./generated/hearth/v1/InviteReply.ts";
export type * from "./generated/hearth/v1/RemoveMemberRequest.ts";
export type * from "./generated/hearth/v1/LoadModelRequest.ts";
export type * from "./generated/hearth/v1/HostEvent.ts";
export type * from "./generated/hearth/v1/HostedModel.ts";
export type * from "./generated/hearth/v1/ChatRequest.ts";
export type * from "./generated/hearth/v1/ChatEvent.ts";
export type * from "./generated/hearth/v1/ChatResult.ts";
export type * from "./generated/hearth/v1/AttachRequest.ts";
export type { NodeClient as RawNodeClient, NodeHandlers } from "./generated/hearth/v1/Node.ts";
export type { AdmissionClient as RawAdmissionClient } from "./generated/hearth/v1/Admission.ts";
export type { DType } from "./generated/hearth/v1/DType.ts";
export type { FlashAttention } from "./generated/hearth/v1/FlashAttention.ts";

/** This contract's version; nodes and coordinators of another version refuse each other. */
export const PROTOCOL_VERSION = 5;

/** The path prefix of the Admission service's methods: the only ones open to machines that are not members. */
export const ADMISSION_PATH_PREFIX = "/hearth.v1.Admission/";

/** The largest gRPC message either side accepts. */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

const protoFile = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "proto", "hearth", "v1", "node.proto");
export const LOADER_OPTIONS: protoLoader.Options = { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true };

let loaded: ProtoGrpcType | null = null;

/** The loaded contract (read once, on first use). */
export function nodeContract(): ProtoGrpcType {
    loaded ??= grpc.loadPackageDefinition(protoLoader.loadSync(unpackedPath(protoFile), LOADER_OPTIONS)) as unknown as ProtoGrpcType;
    return loaded;
}

export class InvalidMessage {
    constructor(readonly reason: string) {}
}

/** A service of the contract (Node by default) with request deserializers that turn bad bytes into InvalidMessage. */
export function guardedServiceDefinition(serviceName: "Node" | "Admission" = "Node"): grpc.ServiceDefinition {
    const service = nodeContract().hearth.v1[serviceName].service;
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
