// Original file: proto/hearth/v1/node.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AttachRequest as _hearth_v1_AttachRequest, AttachRequest__Output as _hearth_v1_AttachRequest__Output } from '../../hearth/v1/AttachRequest.ts';
import type { ChatEvent as _hearth_v1_ChatEvent, ChatEvent__Output as _hearth_v1_ChatEvent__Output } from '../../hearth/v1/ChatEvent.ts';
import type { ChatRequest as _hearth_v1_ChatRequest, ChatRequest__Output as _hearth_v1_ChatRequest__Output } from '../../hearth/v1/ChatRequest.ts';
import type { ClosePipelineReply as _hearth_v1_ClosePipelineReply, ClosePipelineReply__Output as _hearth_v1_ClosePipelineReply__Output } from '../../hearth/v1/ClosePipelineReply.ts';
import type { ClosePipelineRequest as _hearth_v1_ClosePipelineRequest, ClosePipelineRequest__Output as _hearth_v1_ClosePipelineRequest__Output } from '../../hearth/v1/ClosePipelineRequest.ts';
import type { CreateInviteRequest as _hearth_v1_CreateInviteRequest, CreateInviteRequest__Output as _hearth_v1_CreateInviteRequest__Output } from '../../hearth/v1/CreateInviteRequest.ts';
import type { ForwardMessage as _hearth_v1_ForwardMessage, ForwardMessage__Output as _hearth_v1_ForwardMessage__Output } from '../../hearth/v1/ForwardMessage.ts';
import type { ForwardReply as _hearth_v1_ForwardReply, ForwardReply__Output as _hearth_v1_ForwardReply__Output } from '../../hearth/v1/ForwardReply.ts';
import type { HealthReply as _hearth_v1_HealthReply, HealthReply__Output as _hearth_v1_HealthReply__Output } from '../../hearth/v1/HealthReply.ts';
import type { HealthRequest as _hearth_v1_HealthRequest, HealthRequest__Output as _hearth_v1_HealthRequest__Output } from '../../hearth/v1/HealthRequest.ts';
import type { HostEvent as _hearth_v1_HostEvent, HostEvent__Output as _hearth_v1_HostEvent__Output } from '../../hearth/v1/HostEvent.ts';
import type { InfoRequest as _hearth_v1_InfoRequest, InfoRequest__Output as _hearth_v1_InfoRequest__Output } from '../../hearth/v1/InfoRequest.ts';
import type { InviteReply as _hearth_v1_InviteReply, InviteReply__Output as _hearth_v1_InviteReply__Output } from '../../hearth/v1/InviteReply.ts';
import type { LoadModelRequest as _hearth_v1_LoadModelRequest, LoadModelRequest__Output as _hearth_v1_LoadModelRequest__Output } from '../../hearth/v1/LoadModelRequest.ts';
import type { MemberList as _hearth_v1_MemberList, MemberList__Output as _hearth_v1_MemberList__Output } from '../../hearth/v1/MemberList.ts';
import type { NodeInfo as _hearth_v1_NodeInfo, NodeInfo__Output as _hearth_v1_NodeInfo__Output } from '../../hearth/v1/NodeInfo.ts';
import type { PeersReply as _hearth_v1_PeersReply, PeersReply__Output as _hearth_v1_PeersReply__Output } from '../../hearth/v1/PeersReply.ts';
import type { PeersRequest as _hearth_v1_PeersRequest, PeersRequest__Output as _hearth_v1_PeersRequest__Output } from '../../hearth/v1/PeersRequest.ts';
import type { PipelineEvent as _hearth_v1_PipelineEvent, PipelineEvent__Output as _hearth_v1_PipelineEvent__Output } from '../../hearth/v1/PipelineEvent.ts';
import type { PrepareStageReply as _hearth_v1_PrepareStageReply, PrepareStageReply__Output as _hearth_v1_PrepareStageReply__Output } from '../../hearth/v1/PrepareStageReply.ts';
import type { PrepareStageRequest as _hearth_v1_PrepareStageRequest, PrepareStageRequest__Output as _hearth_v1_PrepareStageRequest__Output } from '../../hearth/v1/PrepareStageRequest.ts';
import type { ProbeReply as _hearth_v1_ProbeReply, ProbeReply__Output as _hearth_v1_ProbeReply__Output } from '../../hearth/v1/ProbeReply.ts';
import type { ProbeRequest as _hearth_v1_ProbeRequest, ProbeRequest__Output as _hearth_v1_ProbeRequest__Output } from '../../hearth/v1/ProbeRequest.ts';
import type { RemoveMemberRequest as _hearth_v1_RemoveMemberRequest, RemoveMemberRequest__Output as _hearth_v1_RemoveMemberRequest__Output } from '../../hearth/v1/RemoveMemberRequest.ts';
import type { UploadChunk as _hearth_v1_UploadChunk, UploadChunk__Output as _hearth_v1_UploadChunk__Output } from '../../hearth/v1/UploadChunk.ts';
import type { UploadReply as _hearth_v1_UploadReply, UploadReply__Output as _hearth_v1_UploadReply__Output } from '../../hearth/v1/UploadReply.ts';

export interface NodeClient extends grpc.Client {
  Attach(argument: _hearth_v1_AttachRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_hearth_v1_PipelineEvent__Output>;
  Attach(argument: _hearth_v1_AttachRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_hearth_v1_PipelineEvent__Output>;
  attach(argument: _hearth_v1_AttachRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_hearth_v1_PipelineEvent__Output>;
  attach(argument: _hearth_v1_AttachRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_hearth_v1_PipelineEvent__Output>;
  
  Chat(argument: _hearth_v1_ChatRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_hearth_v1_ChatEvent__Output>;
  Chat(argument: _hearth_v1_ChatRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_hearth_v1_ChatEvent__Output>;
  chat(argument: _hearth_v1_ChatRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_hearth_v1_ChatEvent__Output>;
  chat(argument: _hearth_v1_ChatRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_hearth_v1_ChatEvent__Output>;
  
  ClosePipeline(argument: _hearth_v1_ClosePipelineRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_ClosePipelineReply__Output>): grpc.ClientUnaryCall;
  ClosePipeline(argument: _hearth_v1_ClosePipelineRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_hearth_v1_ClosePipelineReply__Output>): grpc.ClientUnaryCall;
  ClosePipeline(argument: _hearth_v1_ClosePipelineRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_ClosePipelineReply__Output>): grpc.ClientUnaryCall;
  ClosePipeline(argument: _hearth_v1_ClosePipelineRequest, callback: grpc.requestCallback<_hearth_v1_ClosePipelineReply__Output>): grpc.ClientUnaryCall;
  closePipeline(argument: _hearth_v1_ClosePipelineRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_ClosePipelineReply__Output>): grpc.ClientUnaryCall;
  closePipeline(argument: _hearth_v1_ClosePipelineRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_hearth_v1_ClosePipelineReply__Output>): grpc.ClientUnaryCall;
  closePipeline(argument: _hearth_v1_ClosePipelineRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_ClosePipelineReply__Output>): grpc.ClientUnaryCall;
  closePipeline(argument: _hearth_v1_ClosePipelineRequest, callback: grpc.requestCallback<_hearth_v1_ClosePipelineReply__Output>): grpc.ClientUnaryCall;
  
  CreateInvite(argument: _hearth_v1_CreateInviteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_InviteReply__Output>): grpc.ClientUnaryCall;
  CreateInvite(argument: _hearth_v1_CreateInviteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_hearth_v1_InviteReply__Output>): grpc.ClientUnaryCall;
  CreateInvite(argument: _hearth_v1_CreateInviteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_InviteReply__Output>): grpc.ClientUnaryCall;
  CreateInvite(argument: _hearth_v1_CreateInviteRequest, callback: grpc.requestCallback<_hearth_v1_InviteReply__Output>): grpc.ClientUnaryCall;
  createInvite(argument: _hearth_v1_CreateInviteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_InviteReply__Output>): grpc.ClientUnaryCall;
  createInvite(argument: _hearth_v1_CreateInviteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_hearth_v1_InviteReply__Output>): grpc.ClientUnaryCall;
  createInvite(argument: _hearth_v1_CreateInviteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_InviteReply__Output>): grpc.ClientUnaryCall;
  createInvite(argument: _hearth_v1_CreateInviteRequest, callback: grpc.requestCallback<_hearth_v1_InviteReply__Output>): grpc.ClientUnaryCall;
  
  Forward(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_ForwardReply__Output>): grpc.ClientWritableStream<_hearth_v1_ForwardMessage>;
  Forward(metadata: grpc.Metadata, callback: grpc.requestCallback<_hearth_v1_ForwardReply__Output>): grpc.ClientWritableStream<_hearth_v1_ForwardMessage>;
  Forward(options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_ForwardReply__Output>): grpc.ClientWritableStream<_hearth_v1_ForwardMessage>;
  Forward(callback: grpc.requestCallback<_hearth_v1_ForwardReply__Output>): grpc.ClientWritableStream<_hearth_v1_ForwardMessage>;
  forward(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_ForwardReply__Output>): grpc.ClientWritableStream<_hearth_v1_ForwardMessage>;
  forward(metadata: grpc.Metadata, callback: grpc.requestCallback<_hearth_v1_ForwardReply__Output>): grpc.ClientWritableStream<_hearth_v1_ForwardMessage>;
  forward(options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_ForwardReply__Output>): grpc.ClientWritableStream<_hearth_v1_ForwardMessage>;
  forward(callback: grpc.requestCallback<_hearth_v1_ForwardReply__Output>): grpc.ClientWritableStream<_hearth_v1_ForwardMessage>;
  
  GetInfo(argument: _hearth_v1_InfoRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_NodeInfo__Output>): grpc.ClientUnaryCall;
  GetInfo(argument: _hearth_v1_InfoRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_hearth_v1_NodeInfo__Output>): grpc.ClientUnaryCall;
  GetInfo(argument: _hearth_v1_InfoRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_NodeInfo__Output>): grpc.ClientUnaryCall;
  GetInfo(argument: _hearth_v1_InfoRequest, callback: grpc.requestCallback<_hearth_v1_NodeInfo__Output>): grpc.ClientUnaryCall;
  getInfo(argument: _hearth_v1_InfoRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_NodeInfo__Output>): grpc.ClientUnaryCall;
  getInfo(argument: _hearth_v1_InfoRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_hearth_v1_NodeInfo__Output>): grpc.ClientUnaryCall;
  getInfo(argument: _hearth_v1_InfoRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_NodeInfo__Output>): grpc.ClientUnaryCall;
  getInfo(argument: _hearth_v1_InfoRequest, callback: grpc.requestCallback<_hearth_v1_NodeInfo__Output>): grpc.ClientUnaryCall;
  
  GetPeers(argument: _hearth_v1_PeersRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_PeersReply__Output>): grpc.ClientUnaryCall;
  GetPeers(argument: _hearth_v1_PeersRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_hearth_v1_PeersReply__Output>): grpc.ClientUnaryCall;
  GetPeers(argument: _hearth_v1_PeersRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_PeersReply__Output>): grpc.ClientUnaryCall;
  GetPeers(argument: _hearth_v1_PeersRequest, callback: grpc.requestCallback<_hearth_v1_PeersReply__Output>): grpc.ClientUnaryCall;
  getPeers(argument: _hearth_v1_PeersRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_PeersReply__Output>): grpc.ClientUnaryCall;
  getPeers(argument: _hearth_v1_PeersRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_hearth_v1_PeersReply__Output>): grpc.ClientUnaryCall;
  getPeers(argument: _hearth_v1_PeersRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_PeersReply__Output>): grpc.ClientUnaryCall;
  getPeers(argument: _hearth_v1_PeersRequest, callback: grpc.requestCallback<_hearth_v1_PeersReply__Output>): grpc.ClientUnaryCall;
  
  Health(argument: _hearth_v1_HealthRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_HealthReply__Output>): grpc.ClientUnaryCall;
  Health(argument: _hearth_v1_HealthRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_hearth_v1_HealthReply__Output>): grpc.ClientUnaryCall;
  Health(argument: _hearth_v1_HealthRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_HealthReply__Output>): grpc.ClientUnaryCall;
  Health(argument: _hearth_v1_HealthRequest, callback: grpc.requestCallback<_hearth_v1_HealthReply__Output>): grpc.ClientUnaryCall;
  health(argument: _hearth_v1_HealthRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_HealthReply__Output>): grpc.ClientUnaryCall;
  health(argument: _hearth_v1_HealthRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_hearth_v1_HealthReply__Output>): grpc.ClientUnaryCall;
  health(argument: _hearth_v1_HealthRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_HealthReply__Output>): grpc.ClientUnaryCall;
  health(argument: _hearth_v1_HealthRequest, callback: grpc.requestCallback<_hearth_v1_HealthReply__Output>): grpc.ClientUnaryCall;
  
  LoadModel(argument: _hearth_v1_LoadModelRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_hearth_v1_HostEvent__Output>;
  LoadModel(argument: _hearth_v1_LoadModelRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_hearth_v1_HostEvent__Output>;
  loadModel(argument: _hearth_v1_LoadModelRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_hearth_v1_HostEvent__Output>;
  loadModel(argument: _hearth_v1_LoadModelRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_hearth_v1_HostEvent__Output>;
  
  PrepareStage(argument: _hearth_v1_PrepareStageRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_PrepareStageReply__Output>): grpc.ClientUnaryCall;
  PrepareStage(argument: _hearth_v1_PrepareStageRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_hearth_v1_PrepareStageReply__Output>): grpc.ClientUnaryCall;
  PrepareStage(argument: _hearth_v1_PrepareStageRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_PrepareStageReply__Output>): grpc.ClientUnaryCall;
  PrepareStage(argument: _hearth_v1_PrepareStageRequest, callback: grpc.requestCallback<_hearth_v1_PrepareStageReply__Output>): grpc.ClientUnaryCall;
  prepareStage(argument: _hearth_v1_PrepareStageRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_PrepareStageReply__Output>): grpc.ClientUnaryCall;
  prepareStage(argument: _hearth_v1_PrepareStageRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_hearth_v1_PrepareStageReply__Output>): grpc.ClientUnaryCall;
  prepareStage(argument: _hearth_v1_PrepareStageRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_PrepareStageReply__Output>): grpc.ClientUnaryCall;
  prepareStage(argument: _hearth_v1_PrepareStageRequest, callback: grpc.requestCallback<_hearth_v1_PrepareStageReply__Output>): grpc.ClientUnaryCall;
  
  Probe(argument: _hearth_v1_ProbeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_ProbeReply__Output>): grpc.ClientUnaryCall;
  Probe(argument: _hearth_v1_ProbeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_hearth_v1_ProbeReply__Output>): grpc.ClientUnaryCall;
  Probe(argument: _hearth_v1_ProbeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_ProbeReply__Output>): grpc.ClientUnaryCall;
  Probe(argument: _hearth_v1_ProbeRequest, callback: grpc.requestCallback<_hearth_v1_ProbeReply__Output>): grpc.ClientUnaryCall;
  probe(argument: _hearth_v1_ProbeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_ProbeReply__Output>): grpc.ClientUnaryCall;
  probe(argument: _hearth_v1_ProbeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_hearth_v1_ProbeReply__Output>): grpc.ClientUnaryCall;
  probe(argument: _hearth_v1_ProbeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_ProbeReply__Output>): grpc.ClientUnaryCall;
  probe(argument: _hearth_v1_ProbeRequest, callback: grpc.requestCallback<_hearth_v1_ProbeReply__Output>): grpc.ClientUnaryCall;
  
  RemoveMember(argument: _hearth_v1_RemoveMemberRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_MemberList__Output>): grpc.ClientUnaryCall;
  RemoveMember(argument: _hearth_v1_RemoveMemberRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_hearth_v1_MemberList__Output>): grpc.ClientUnaryCall;
  RemoveMember(argument: _hearth_v1_RemoveMemberRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_MemberList__Output>): grpc.ClientUnaryCall;
  RemoveMember(argument: _hearth_v1_RemoveMemberRequest, callback: grpc.requestCallback<_hearth_v1_MemberList__Output>): grpc.ClientUnaryCall;
  removeMember(argument: _hearth_v1_RemoveMemberRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_MemberList__Output>): grpc.ClientUnaryCall;
  removeMember(argument: _hearth_v1_RemoveMemberRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_hearth_v1_MemberList__Output>): grpc.ClientUnaryCall;
  removeMember(argument: _hearth_v1_RemoveMemberRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_MemberList__Output>): grpc.ClientUnaryCall;
  removeMember(argument: _hearth_v1_RemoveMemberRequest, callback: grpc.requestCallback<_hearth_v1_MemberList__Output>): grpc.ClientUnaryCall;
  
  SyncMembers(argument: _hearth_v1_MemberList, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_MemberList__Output>): grpc.ClientUnaryCall;
  SyncMembers(argument: _hearth_v1_MemberList, metadata: grpc.Metadata, callback: grpc.requestCallback<_hearth_v1_MemberList__Output>): grpc.ClientUnaryCall;
  SyncMembers(argument: _hearth_v1_MemberList, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_MemberList__Output>): grpc.ClientUnaryCall;
  SyncMembers(argument: _hearth_v1_MemberList, callback: grpc.requestCallback<_hearth_v1_MemberList__Output>): grpc.ClientUnaryCall;
  syncMembers(argument: _hearth_v1_MemberList, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_MemberList__Output>): grpc.ClientUnaryCall;
  syncMembers(argument: _hearth_v1_MemberList, metadata: grpc.Metadata, callback: grpc.requestCallback<_hearth_v1_MemberList__Output>): grpc.ClientUnaryCall;
  syncMembers(argument: _hearth_v1_MemberList, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_MemberList__Output>): grpc.ClientUnaryCall;
  syncMembers(argument: _hearth_v1_MemberList, callback: grpc.requestCallback<_hearth_v1_MemberList__Output>): grpc.ClientUnaryCall;
  
  UploadStage(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_UploadReply__Output>): grpc.ClientWritableStream<_hearth_v1_UploadChunk>;
  UploadStage(metadata: grpc.Metadata, callback: grpc.requestCallback<_hearth_v1_UploadReply__Output>): grpc.ClientWritableStream<_hearth_v1_UploadChunk>;
  UploadStage(options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_UploadReply__Output>): grpc.ClientWritableStream<_hearth_v1_UploadChunk>;
  UploadStage(callback: grpc.requestCallback<_hearth_v1_UploadReply__Output>): grpc.ClientWritableStream<_hearth_v1_UploadChunk>;
  uploadStage(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_UploadReply__Output>): grpc.ClientWritableStream<_hearth_v1_UploadChunk>;
  uploadStage(metadata: grpc.Metadata, callback: grpc.requestCallback<_hearth_v1_UploadReply__Output>): grpc.ClientWritableStream<_hearth_v1_UploadChunk>;
  uploadStage(options: grpc.CallOptions, callback: grpc.requestCallback<_hearth_v1_UploadReply__Output>): grpc.ClientWritableStream<_hearth_v1_UploadChunk>;
  uploadStage(callback: grpc.requestCallback<_hearth_v1_UploadReply__Output>): grpc.ClientWritableStream<_hearth_v1_UploadChunk>;
  
}

export interface NodeHandlers extends grpc.UntypedServiceImplementation {
  Attach: grpc.handleServerStreamingCall<_hearth_v1_AttachRequest__Output, _hearth_v1_PipelineEvent>;
  
  Chat: grpc.handleServerStreamingCall<_hearth_v1_ChatRequest__Output, _hearth_v1_ChatEvent>;
  
  ClosePipeline: grpc.handleUnaryCall<_hearth_v1_ClosePipelineRequest__Output, _hearth_v1_ClosePipelineReply>;
  
  CreateInvite: grpc.handleUnaryCall<_hearth_v1_CreateInviteRequest__Output, _hearth_v1_InviteReply>;
  
  Forward: grpc.handleClientStreamingCall<_hearth_v1_ForwardMessage__Output, _hearth_v1_ForwardReply>;
  
  GetInfo: grpc.handleUnaryCall<_hearth_v1_InfoRequest__Output, _hearth_v1_NodeInfo>;
  
  GetPeers: grpc.handleUnaryCall<_hearth_v1_PeersRequest__Output, _hearth_v1_PeersReply>;
  
  Health: grpc.handleUnaryCall<_hearth_v1_HealthRequest__Output, _hearth_v1_HealthReply>;
  
  LoadModel: grpc.handleServerStreamingCall<_hearth_v1_LoadModelRequest__Output, _hearth_v1_HostEvent>;
  
  PrepareStage: grpc.handleUnaryCall<_hearth_v1_PrepareStageRequest__Output, _hearth_v1_PrepareStageReply>;
  
  Probe: grpc.handleUnaryCall<_hearth_v1_ProbeRequest__Output, _hearth_v1_ProbeReply>;
  
  RemoveMember: grpc.handleUnaryCall<_hearth_v1_RemoveMemberRequest__Output, _hearth_v1_MemberList>;
  
  SyncMembers: grpc.handleUnaryCall<_hearth_v1_MemberList__Output, _hearth_v1_MemberList>;
  
  UploadStage: grpc.handleClientStreamingCall<_hearth_v1_UploadChunk__Output, _hearth_v1_UploadReply>;
  
}

export interface NodeDefinition extends grpc.ServiceDefinition {
  Attach: MethodDefinition<_hearth_v1_AttachRequest, _hearth_v1_PipelineEvent, _hearth_v1_AttachRequest__Output, _hearth_v1_PipelineEvent__Output>
  Chat: MethodDefinition<_hearth_v1_ChatRequest, _hearth_v1_ChatEvent, _hearth_v1_ChatRequest__Output, _hearth_v1_ChatEvent__Output>
  ClosePipeline: MethodDefinition<_hearth_v1_ClosePipelineRequest, _hearth_v1_ClosePipelineReply, _hearth_v1_ClosePipelineRequest__Output, _hearth_v1_ClosePipelineReply__Output>
  CreateInvite: MethodDefinition<_hearth_v1_CreateInviteRequest, _hearth_v1_InviteReply, _hearth_v1_CreateInviteRequest__Output, _hearth_v1_InviteReply__Output>
  Forward: MethodDefinition<_hearth_v1_ForwardMessage, _hearth_v1_ForwardReply, _hearth_v1_ForwardMessage__Output, _hearth_v1_ForwardReply__Output>
  GetInfo: MethodDefinition<_hearth_v1_InfoRequest, _hearth_v1_NodeInfo, _hearth_v1_InfoRequest__Output, _hearth_v1_NodeInfo__Output>
  GetPeers: MethodDefinition<_hearth_v1_PeersRequest, _hearth_v1_PeersReply, _hearth_v1_PeersRequest__Output, _hearth_v1_PeersReply__Output>
  Health: MethodDefinition<_hearth_v1_HealthRequest, _hearth_v1_HealthReply, _hearth_v1_HealthRequest__Output, _hearth_v1_HealthReply__Output>
  LoadModel: MethodDefinition<_hearth_v1_LoadModelRequest, _hearth_v1_HostEvent, _hearth_v1_LoadModelRequest__Output, _hearth_v1_HostEvent__Output>
  PrepareStage: MethodDefinition<_hearth_v1_PrepareStageRequest, _hearth_v1_PrepareStageReply, _hearth_v1_PrepareStageRequest__Output, _hearth_v1_PrepareStageReply__Output>
  Probe: MethodDefinition<_hearth_v1_ProbeRequest, _hearth_v1_ProbeReply, _hearth_v1_ProbeRequest__Output, _hearth_v1_ProbeReply__Output>
  RemoveMember: MethodDefinition<_hearth_v1_RemoveMemberRequest, _hearth_v1_MemberList, _hearth_v1_RemoveMemberRequest__Output, _hearth_v1_MemberList__Output>
  SyncMembers: MethodDefinition<_hearth_v1_MemberList, _hearth_v1_MemberList, _hearth_v1_MemberList__Output, _hearth_v1_MemberList__Output>
  UploadStage: MethodDefinition<_hearth_v1_UploadChunk, _hearth_v1_UploadReply, _hearth_v1_UploadChunk__Output, _hearth_v1_UploadReply__Output>
}
