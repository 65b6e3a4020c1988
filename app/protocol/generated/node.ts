import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { Activation as _hearth_v1_Activation, Activation__Output as _hearth_v1_Activation__Output } from './hearth/v1/Activation.ts';
import type { AdmissionClient as _hearth_v1_AdmissionClient, AdmissionDefinition as _hearth_v1_AdmissionDefinition } from './hearth/v1/Admission.ts';
import type { AttachRequest as _hearth_v1_AttachRequest, AttachRequest__Output as _hearth_v1_AttachRequest__Output } from './hearth/v1/AttachRequest.ts';
import type { Attached as _hearth_v1_Attached, Attached__Output as _hearth_v1_Attached__Output } from './hearth/v1/Attached.ts';
import type { ChatDelta as _hearth_v1_ChatDelta, ChatDelta__Output as _hearth_v1_ChatDelta__Output } from './hearth/v1/ChatDelta.ts';
import type { ChatEvent as _hearth_v1_ChatEvent, ChatEvent__Output as _hearth_v1_ChatEvent__Output } from './hearth/v1/ChatEvent.ts';
import type { ChatRequest as _hearth_v1_ChatRequest, ChatRequest__Output as _hearth_v1_ChatRequest__Output } from './hearth/v1/ChatRequest.ts';
import type { ChatResult as _hearth_v1_ChatResult, ChatResult__Output as _hearth_v1_ChatResult__Output } from './hearth/v1/ChatResult.ts';
import type { ChatTurn as _hearth_v1_ChatTurn, ChatTurn__Output as _hearth_v1_ChatTurn__Output } from './hearth/v1/ChatTurn.ts';
import type { ClosePipelineReply as _hearth_v1_ClosePipelineReply, ClosePipelineReply__Output as _hearth_v1_ClosePipelineReply__Output } from './hearth/v1/ClosePipelineReply.ts';
import type { ClosePipelineRequest as _hearth_v1_ClosePipelineRequest, ClosePipelineRequest__Output as _hearth_v1_ClosePipelineRequest__Output } from './hearth/v1/ClosePipelineRequest.ts';
import type { CreateInviteRequest as _hearth_v1_CreateInviteRequest, CreateInviteRequest__Output as _hearth_v1_CreateInviteRequest__Output } from './hearth/v1/CreateInviteRequest.ts';
import type { ForwardMessage as _hearth_v1_ForwardMessage, ForwardMessage__Output as _hearth_v1_ForwardMessage__Output } from './hearth/v1/ForwardMessage.ts';
import type { ForwardReply as _hearth_v1_ForwardReply, ForwardReply__Output as _hearth_v1_ForwardReply__Output } from './hearth/v1/ForwardReply.ts';
import type { HealthReply as _hearth_v1_HealthReply, HealthReply__Output as _hearth_v1_HealthReply__Output } from './hearth/v1/HealthReply.ts';
import type { HealthRequest as _hearth_v1_HealthRequest, HealthRequest__Output as _hearth_v1_HealthRequest__Output } from './hearth/v1/HealthRequest.ts';
import type { HelloReply as _hearth_v1_HelloReply, HelloReply__Output as _hearth_v1_HelloReply__Output } from './hearth/v1/HelloReply.ts';
import type { HelloRequest as _hearth_v1_HelloRequest, HelloRequest__Output as _hearth_v1_HelloRequest__Output } from './hearth/v1/HelloRequest.ts';
import type { HostEvent as _hearth_v1_HostEvent, HostEvent__Output as _hearth_v1_HostEvent__Output } from './hearth/v1/HostEvent.ts';
import type { HostedModel as _hearth_v1_HostedModel, HostedModel__Output as _hearth_v1_HostedModel__Output } from './hearth/v1/HostedModel.ts';
import type { InfoRequest as _hearth_v1_InfoRequest, InfoRequest__Output as _hearth_v1_InfoRequest__Output } from './hearth/v1/InfoRequest.ts';
import type { InviteReply as _hearth_v1_InviteReply, InviteReply__Output as _hearth_v1_InviteReply__Output } from './hearth/v1/InviteReply.ts';
import type { JoinAccept as _hearth_v1_JoinAccept, JoinAccept__Output as _hearth_v1_JoinAccept__Output } from './hearth/v1/JoinAccept.ts';
import type { JoinChallenge as _hearth_v1_JoinChallenge, JoinChallenge__Output as _hearth_v1_JoinChallenge__Output } from './hearth/v1/JoinChallenge.ts';
import type { JoinMessage as _hearth_v1_JoinMessage, JoinMessage__Output as _hearth_v1_JoinMessage__Output } from './hearth/v1/JoinMessage.ts';
import type { JoinRequestMessage as _hearth_v1_JoinRequestMessage, JoinRequestMessage__Output as _hearth_v1_JoinRequestMessage__Output } from './hearth/v1/JoinRequestMessage.ts';
import type { LayerRange as _hearth_v1_LayerRange, LayerRange__Output as _hearth_v1_LayerRange__Output } from './hearth/v1/LayerRange.ts';
import type { LinkMeasurement as _hearth_v1_LinkMeasurement, LinkMeasurement__Output as _hearth_v1_LinkMeasurement__Output } from './hearth/v1/LinkMeasurement.ts';
import type { LinkStatus as _hearth_v1_LinkStatus, LinkStatus__Output as _hearth_v1_LinkStatus__Output } from './hearth/v1/LinkStatus.ts';
import type { LoadModelRequest as _hearth_v1_LoadModelRequest, LoadModelRequest__Output as _hearth_v1_LoadModelRequest__Output } from './hearth/v1/LoadModelRequest.ts';
import type { MemberEntry as _hearth_v1_MemberEntry, MemberEntry__Output as _hearth_v1_MemberEntry__Output } from './hearth/v1/MemberEntry.ts';
import type { MemberList as _hearth_v1_MemberList, MemberList__Output as _hearth_v1_MemberList__Output } from './hearth/v1/MemberList.ts';
import type { NodeClient as _hearth_v1_NodeClient, NodeDefinition as _hearth_v1_NodeDefinition } from './hearth/v1/Node.ts';
import type { NodeInfo as _hearth_v1_NodeInfo, NodeInfo__Output as _hearth_v1_NodeInfo__Output } from './hearth/v1/NodeInfo.ts';
import type { PeersReply as _hearth_v1_PeersReply, PeersReply__Output as _hearth_v1_PeersReply__Output } from './hearth/v1/PeersReply.ts';
import type { PeersRequest as _hearth_v1_PeersRequest, PeersRequest__Output as _hearth_v1_PeersRequest__Output } from './hearth/v1/PeersRequest.ts';
import type { PipelineEvent as _hearth_v1_PipelineEvent, PipelineEvent__Output as _hearth_v1_PipelineEvent__Output } from './hearth/v1/PipelineEvent.ts';
import type { PlannedStage as _hearth_v1_PlannedStage, PlannedStage__Output as _hearth_v1_PlannedStage__Output } from './hearth/v1/PlannedStage.ts';
import type { PrepareStageReply as _hearth_v1_PrepareStageReply, PrepareStageReply__Output as _hearth_v1_PrepareStageReply__Output } from './hearth/v1/PrepareStageReply.ts';
import type { PrepareStageRequest as _hearth_v1_PrepareStageRequest, PrepareStageRequest__Output as _hearth_v1_PrepareStageRequest__Output } from './hearth/v1/PrepareStageRequest.ts';
import type { ProbeReply as _hearth_v1_ProbeReply, ProbeReply__Output as _hearth_v1_ProbeReply__Output } from './hearth/v1/ProbeReply.ts';
import type { ProbeRequest as _hearth_v1_ProbeRequest, ProbeRequest__Output as _hearth_v1_ProbeRequest__Output } from './hearth/v1/ProbeRequest.ts';
import type { ProposedPlan as _hearth_v1_ProposedPlan, ProposedPlan__Output as _hearth_v1_ProposedPlan__Output } from './hearth/v1/ProposedPlan.ts';
import type { Release as _hearth_v1_Release, Release__Output as _hearth_v1_Release__Output } from './hearth/v1/Release.ts';
import type { Released as _hearth_v1_Released, Released__Output as _hearth_v1_Released__Output } from './hearth/v1/Released.ts';
import type { RemoveMemberRequest as _hearth_v1_RemoveMemberRequest, RemoveMemberRequest__Output as _hearth_v1_RemoveMemberRequest__Output } from './hearth/v1/RemoveMemberRequest.ts';
import type { SamplerParams as _hearth_v1_SamplerParams, SamplerParams__Output as _hearth_v1_SamplerParams__Output } from './hearth/v1/SamplerParams.ts';
import type { StageOptions as _hearth_v1_StageOptions, StageOptions__Output as _hearth_v1_StageOptions__Output } from './hearth/v1/StageOptions.ts';
import type { StageStatus as _hearth_v1_StageStatus, StageStatus__Output as _hearth_v1_StageStatus__Output } from './hearth/v1/StageStatus.ts';
import type { StepError as _hearth_v1_StepError, StepError__Output as _hearth_v1_StepError__Output } from './hearth/v1/StepError.ts';
import type { StepResult as _hearth_v1_StepResult, StepResult__Output as _hearth_v1_StepResult__Output } from './hearth/v1/StepResult.ts';
import type { UploadChunk as _hearth_v1_UploadChunk, UploadChunk__Output as _hearth_v1_UploadChunk__Output } from './hearth/v1/UploadChunk.ts';
import type { UploadHeader as _hearth_v1_UploadHeader, UploadHeader__Output as _hearth_v1_UploadHeader__Output } from './hearth/v1/UploadHeader.ts';
import type { UploadReply as _hearth_v1_UploadReply, UploadReply__Output as _hearth_v1_UploadReply__Output } from './hearth/v1/UploadReply.ts';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  hearth: {
    v1: {
      Activation: MessageTypeDefinition<_hearth_v1_Activation, _hearth_v1_Activation__Output>
      Admission: SubtypeConstructor<typeof grpc.Client, _hearth_v1_AdmissionClient> & { service: _hearth_v1_AdmissionDefinition }
      AttachRequest: MessageTypeDefinition<_hearth_v1_AttachRequest, _hearth_v1_AttachRequest__Output>
      Attached: MessageTypeDefinition<_hearth_v1_Attached, _hearth_v1_Attached__Output>
      ChatDelta: MessageTypeDefinition<_hearth_v1_ChatDelta, _hearth_v1_ChatDelta__Output>
      ChatEvent: MessageTypeDefinition<_hearth_v1_ChatEvent, _hearth_v1_ChatEvent__Output>
      ChatRequest: MessageTypeDefinition<_hearth_v1_ChatRequest, _hearth_v1_ChatRequest__Output>
      ChatResult: MessageTypeDefinition<_hearth_v1_ChatResult, _hearth_v1_ChatResult__Output>
      ChatTurn: MessageTypeDefinition<_hearth_v1_ChatTurn, _hearth_v1_ChatTurn__Output>
      ClosePipelineReply: MessageTypeDefinition<_hearth_v1_ClosePipelineReply, _hearth_v1_ClosePipelineReply__Output>
      ClosePipelineRequest: MessageTypeDefinition<_hearth_v1_ClosePipelineRequest, _hearth_v1_ClosePipelineRequest__Output>
      CreateInviteRequest: MessageTypeDefinition<_hearth_v1_CreateInviteRequest, _hearth_v1_CreateInviteRequest__Output>
      DType: EnumTypeDefinition
      FlashAttention: EnumTypeDefinition
      ForwardMessage: MessageTypeDefinition<_hearth_v1_ForwardMessage, _hearth_v1_ForwardMessage__Output>
      ForwardReply: MessageTypeDefinition<_hearth_v1_ForwardReply, _hearth_v1_ForwardReply__Output>
      HealthReply: MessageTypeDefinition<_hearth_v1_HealthReply, _hearth_v1_HealthReply__Output>
      HealthRequest: MessageTypeDefinition<_hearth_v1_HealthRequest, _hearth_v1_HealthRequest__Output>
      HelloReply: MessageTypeDefinition<_hearth_v1_HelloReply, _hearth_v1_HelloReply__Output>
      HelloRequest: MessageTypeDefinition<_hearth_v1_HelloRequest, _hearth_v1_HelloRequest__Output>
      HostEvent: MessageTypeDefinition<_hearth_v1_HostEvent, _hearth_v1_HostEvent__Output>
      HostedModel: MessageTypeDefinition<_hearth_v1_HostedModel, _hearth_v1_HostedModel__Output>
      InfoRequest: MessageTypeDefinition<_hearth_v1_InfoRequest, _hearth_v1_InfoRequest__Output>
      InviteReply: MessageTypeDefinition<_hearth_v1_InviteReply, _hearth_v1_InviteReply__Output>
      JoinAccept: MessageTypeDefinition<_hearth_v1_JoinAccept, _hearth_v1_JoinAccept__Output>
      JoinChallenge: MessageTypeDefinition<_hearth_v1_JoinChallenge, _hearth_v1_JoinChallenge__Output>
      JoinMessage: MessageTypeDefinition<_hearth_v1_JoinMessage, _hearth_v1_JoinMessage__Output>
      JoinRequestMessage: MessageTypeDefinition<_hearth_v1_JoinRequestMessage, _hearth_v1_JoinRequestMessage__Output>
      LayerRange: MessageTypeDefinition<_hearth_v1_LayerRange, _hearth_v1_LayerRange__Output>
      LinkMeasurement: MessageTypeDefinition<_hearth_v1_LinkMeasurement, _hearth_v1_LinkMeasurement__Output>
      LinkStatus: MessageTypeDefinition<_hearth_v1_LinkStatus, _hearth_v1_LinkStatus__Output>
      LoadModelRequest: MessageTypeDefinition<_hearth_v1_LoadModelRequest, _hearth_v1_LoadModelRequest__Output>
      MemberEntry: MessageTypeDefinition<_hearth_v1_MemberEntry, _hearth_v1_MemberEntry__Output>
      MemberList: MessageTypeDefinition<_hearth_v1_MemberList, _hearth_v1_MemberList__Output>
      Node: SubtypeConstructor<typeof grpc.Client, _hearth_v1_NodeClient> & { service: _hearth_v1_NodeDefinition }
      NodeInfo: MessageTypeDefinition<_hearth_v1_NodeInfo, _hearth_v1_NodeInfo__Output>
      PeersReply: MessageTypeDefinition<_hearth_v1_PeersReply, _hearth_v1_PeersReply__Output>
      PeersRequest: MessageTypeDefinition<_hearth_v1_PeersRequest, _hearth_v1_PeersRequest__Output>
      PipelineEvent: MessageTypeDefinition<_hearth_v1_PipelineEvent, _hearth_v1_PipelineEvent__Output>
      PlannedStage: MessageTypeDefinition<_hearth_v1_PlannedStage, _hearth_v1_PlannedStage__Output>
      PrepareStageReply: MessageTypeDefinition<_hearth_v1_PrepareStageReply, _hearth_v1_PrepareStageReply__Output>
      PrepareStageRequest: MessageTypeDefinition<_hearth_v1_PrepareStageRequest, _hearth_v1_PrepareStageRequest__Output>
      ProbeReply: MessageTypeDefinition<_hearth_v1_ProbeReply, _hearth_v1_ProbeReply__Output>
      ProbeRequest: MessageTypeDefinition<_hearth_v1_ProbeRequest, _hearth_v1_ProbeRequest__Output>
      ProposedPlan: MessageTypeDefinition<_hearth_v1_ProposedPlan, _hearth_v1_ProposedPlan__Output>
      Release: MessageTypeDefinition<_hearth_v1_Release, _hearth_v1_Release__Output>
      Released: MessageTypeDefinition<_hearth_v1_Released, _hearth_v1_Released__Output>
      RemoveMemberRequest: MessageTypeDefinition<_hearth_v1_RemoveMemberRequest, _hearth_v1_RemoveMemberRequest__Output>
      SamplerParams: MessageTypeDefinition<_hearth_v1_SamplerParams, _hearth_v1_SamplerParams__Output>
      StageOptions: MessageTypeDefinition<_hearth_v1_StageOptions, _hearth_v1_StageOptions__Output>
      StageStatus: MessageTypeDefinition<_hearth_v1_StageStatus, _hearth_v1_StageStatus__Output>
      StepError: MessageTypeDefinition<_hearth_v1_StepError, _hearth_v1_StepError__Output>
      StepResult: MessageTypeDefinition<_hearth_v1_StepResult, _hearth_v1_StepResult__Output>
      UploadChunk: MessageTypeDefinition<_hearth_v1_UploadChunk, _hearth_v1_UploadChunk__Output>
      UploadHeader: MessageTypeDefinition<_hearth_v1_UploadHeader, _hearth_v1_UploadHeader__Output>
      UploadReply: MessageTypeDefinition<_hearth_v1_UploadReply, _hearth_v1_UploadReply__Output>
    }
  }
}

