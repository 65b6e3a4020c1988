// Errors a node answers with: a gRPC status and a message that says what to do.
import * as grpc from "@grpc/grpc-js";

export class NodeError extends Error {
    constructor(readonly code: grpc.status, message: string) { super(message); this.name = "NodeError"; }
}

export const invalid = (message: string) => new NodeError(grpc.status.INVALID_ARGUMENT, message);
