// Original file: proto/hearth/v1/node.proto

import type { PlannedStage as _hearth_v1_PlannedStage, PlannedStage__Output as _hearth_v1_PlannedStage__Output } from '../../hearth/v1/PlannedStage.ts';

export interface HostedModel {
  'name'?: (string);
  'modelSha256'?: (string);
  'hostNodeId'?: (string);
  'hostName'?: (string);
  'state'?: (string);
  'stages'?: (_hearth_v1_PlannedStage)[];
  'message'?: (string);
  'planVersion'?: (number);
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
}
