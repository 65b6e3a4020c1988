// Original file: proto/hearth/v1/node.proto

import type { Attached as _hearth_v1_Attached, Attached__Output as _hearth_v1_Attached__Output } from '../../hearth/v1/Attached.ts';
import type { StepResult as _hearth_v1_StepResult, StepResult__Output as _hearth_v1_StepResult__Output } from '../../hearth/v1/StepResult.ts';
import type { StepError as _hearth_v1_StepError, StepError__Output as _hearth_v1_StepError__Output } from '../../hearth/v1/StepError.ts';
import type { Released as _hearth_v1_Released, Released__Output as _hearth_v1_Released__Output } from '../../hearth/v1/Released.ts';
import type { LinkStatus as _hearth_v1_LinkStatus, LinkStatus__Output as _hearth_v1_LinkStatus__Output } from '../../hearth/v1/LinkStatus.ts';

export interface PipelineEvent {
  'attached'?: (_hearth_v1_Attached | null);
  'result'?: (_hearth_v1_StepResult | null);
  'error'?: (_hearth_v1_StepError | null);
  'released'?: (_hearth_v1_Released | null);
  'link'?: (_hearth_v1_LinkStatus | null);
  'event'?: "attached"|"result"|"error"|"released"|"link";
}

export interface PipelineEvent__Output {
  'attached'?: (_hearth_v1_Attached__Output | null);
  'result'?: (_hearth_v1_StepResult__Output | null);
  'error'?: (_hearth_v1_StepError__Output | null);
  'released'?: (_hearth_v1_Released__Output | null);
  'link'?: (_hearth_v1_LinkStatus__Output | null);
  'event'?: "attached"|"result"|"error"|"released"|"link";
}
