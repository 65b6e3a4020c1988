// Original file: proto/hearth/v1/node.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { HelloReply as _hearth_v1_HelloReply, HelloReply__Output as _hearth_v1_HelloReply__Output } from '../../hearth/v1/HelloReply.ts';
import type { HelloRequest as _hearth_v1_HelloRequest, HelloRequest__Output as _hearth_v1_HelloRequest__Output } from '../../hearth/v1/HelloRequest.ts';
import type { JoinMessage as _hearth_v1_JoinMessage, JoinMessage__Output as _hearth_v1_JoinMessage__Output } from '../../hearth/v1/JoinMessage.ts';

export interface AdmissionClient extends grpc.Client {
  Hello(argument: _hearth_v1_HelloRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_HelloReply__Output>): grpc.ClientUnaryCall;
  Hello(argument: _hearth_v1_HelloRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_hearth_v1_HelloReply__Output>): grpc.ClientUnaryCall;
  Hello(argument: _hearth_v1_HelloRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_HelloReply__Output>): grpc.ClientUnaryCall;
  Hello(argument: _hearth_v1_HelloRequest, callback: grpc.requestCallback<_hearth_v1_HelloReply__Output>): grpc.ClientUnaryCall;
  hello(argument: _hearth_v1_HelloRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_HelloReply__Output>): grpc.ClientUnaryCall;
  hello(argument: _hearth_v1_HelloRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_hearth_v1_HelloReply__Output>): grpc.ClientUnaryCall;
  hello(argument: _hearth_v1_HelloRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_HelloReply__Output>): grpc.ClientUnaryCall;
  hello(argument: _hearth_v1_HelloRequest, callback: grpc.requestCallback<_hearth_v1_HelloReply__Output>): grpc.ClientUnaryCall;
  
  JoinCluster(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_hearth_v1_JoinMessage, _hearth_v1_JoinMessage__Output>;
  JoinCluster(options?: grpc.CallOptions): grpc.ClientDuplexStream<_hearth_v1_JoinMessage, _hearth_v1_JoinMessage__Output>;
  joinCluster(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_hearth_v1_JoinMessage, _hearth_v1_JoinMessage__Output>;
  joinCluster(options?: grpc.CallOptions): grpc.ClientDuplexStream<_hearth_v1_JoinMessage, _hearth_v1_JoinMessage__Output>;
  
}

export interface AdmissionHandlers extends grpc.UntypedServiceImplementation {
  Hello: grpc.handleUnaryCall<_hearth_v1_HelloRequest__Output, _hearth_v1_HelloReply>;
  
  JoinCluster: grpc.handleBidiStreamingCall<_hearth_v1_JoinMessage__Output, _hearth_v1_JoinMessage>;
  
}

export interface AdmissionDefinition extends grpc.ServiceDefinition {
  Hello: MethodDefinition<_hearth_v1_HelloRequest, _hearth_v1_HelloReply, _hearth_v1_HelloRequest__Output, _hearth_v1_HelloReply__Output>
  JoinCluster: MethodDefinition<_hearth_v1_JoinMessage, _hearth_v1_JoinMessage, _hearth_v1_JoinMessage__Output, _hearth_v1_JoinMessage__Output>
}
