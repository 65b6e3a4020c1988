// A tiny gRPC service for the mTLS tests, raw bytes both ways: WhoAmI (unary; answers the caller's
// node id as the server saw it) and Echo (bidi; sends every message back).
import * as grpc from "@grpc/grpc-js";

const bytes = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b };

export const mtlsTestService = {
    whoAmI: {
        path: "/hearth.test.MtlsTest/WhoAmI", requestStream: false, responseStream: false,
        requestSerialize: bytes.serialize, requestDeserialize: bytes.deserialize, responseSerialize: bytes.serialize, responseDeserialize: bytes.deserialize
    },
    echo: {
        path: "/hearth.test.MtlsTest/Echo", requestStream: true, responseStream: true,
        requestSerialize: bytes.serialize, requestDeserialize: bytes.deserialize, responseSerialize: bytes.serialize, responseDeserialize: bytes.deserialize
    }
} satisfies grpc.ServiceDefinition;

export interface MtlsTestClient extends grpc.Client {
    whoAmI(request: Buffer, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, reply?: Buffer) => void): grpc.ClientUnaryCall;
    echo(): grpc.ClientDuplexStream<Buffer, Buffer>;
}

export const MtlsTestClientConstructor = grpc.makeGenericClientConstructor(mtlsTestService, "MtlsTest") as unknown as
    new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => MtlsTestClient;
