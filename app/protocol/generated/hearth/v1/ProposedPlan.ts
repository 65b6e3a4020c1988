// Original file: proto/hearth/v1/node.proto

import type { PlannedStage as _hearth_v1_PlannedStage, PlannedStage__Output as _hearth_v1_PlannedStage__Output } from '../../hearth/v1/PlannedStage.ts';

export interface ProposedPlan {
  'reason'?: (string);
  'stages'?: (_hearth_v1_PlannedStage)[];
  'predictedTokensPerSecond'?: (number | string);
}

export interface ProposedPlan__Output {
  'reason': (string);
  'stages': (_hearth_v1_PlannedStage__Output)[];
  'predictedTokensPerSecond': (number);
}
