// Original file: proto/hearth/v1/node.proto

import type { DType as _hearth_v1_DType, DType__Output as _hearth_v1_DType__Output } from '../../hearth/v1/DType.ts';
import type { SamplerParams as _hearth_v1_SamplerParams, SamplerParams__Output as _hearth_v1_SamplerParams__Output } from '../../hearth/v1/SamplerParams.ts';
import type { Long } from '@grpc/proto-loader';

export interface Activation {
  'pipelineId'?: (string);
  'stageIndex'?: (number);
  'seqId'?: (number);
  'epoch'?: (number);
  'pos'?: (number);
  'nTokens'?: (number);
  'tokens'?: (number)[];
  'hidden'?: (Buffer | Uint8Array | string);
  'dtype'?: (_hearth_v1_DType);
  'sample'?: (boolean);
  'sampler'?: (_hearth_v1_SamplerParams | null);
  'accept'?: (number)[];
  'step'?: (number | string | Long);
  'stageMs'?: (number | string)[];
}

export interface Activation__Output {
  'pipelineId': (string);
  'stageIndex': (number);
  'seqId': (number);
  'epoch': (number);
  'pos': (number);
  'nTokens': (number);
  'tokens': (number)[];
  'hidden': (Buffer);
  'dtype': (_hearth_v1_DType__Output);
  'sample': (boolean);
  'sampler': (_hearth_v1_SamplerParams__Output | null);
  'accept': (number)[];
  'step': (number);
  'stageMs': (number)[];
}
