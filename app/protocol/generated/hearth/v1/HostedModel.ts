// Original file: proto/hearth/v1/node.proto

import type { PlannedStage as _hearth_v1_PlannedStage, PlannedStage__Output as _hearth_v1_PlannedStage__Output } from '../../hearth/v1/PlannedStage.ts';
import type { ProposedPlan as _hearth_v1_ProposedPlan, ProposedPlan__Output as _hearth_v1_ProposedPlan__Output } from '../../hearth/v1/ProposedPlan.ts';

export interface HostedModel {
  'name'?: (string);
  'modelSha256'?: (string);
  'hostNodeId'?: (string);
  'hostName'?: (string);
  'state'?: (string);
  'stages'?: (_hearth_v1_PlannedStage)[];
  'message'?: (string);
  'planVersion'?: (number);
  'predictedTokensPerSecond'?: (number | string);
  'proposed'?: (_hearth_v1_ProposedPlan | null);
}

export interface HostedModel__Output {
  'name': (string);
  'modelSha256': (string);
  'hostNodeId': (string);
  'hostName': (string);
  'state': (string);
  'stages': (_hearth_v1_PlannedStage__Output)[];
  'message': (string);
  'planVersion': (number);
  'predictedTokensPerSecond': (number);
  'proposed': (_hearth_v1_ProposedPlan__Output | null);
}
