// Original file: proto/hearth/v1/node.proto

import type { FlashAttention as _hearth_v1_FlashAttention, FlashAttention__Output as _hearth_v1_FlashAttention__Output } from '../../hearth/v1/FlashAttention.ts';

export interface StageOptions {
  'contextSize'?: (number);
  'maxSequences'?: (number);
  'batchSize'?: (number);
  'threads'?: (number);
  'gpuLayers'?: (number);
  'flashAttention'?: (_hearth_v1_FlashAttention);
}

export interface StageOptions__Output {
  'contextSize': (number);
  'maxSequences': (number);
  'batchSize': (number);
  'threads': (number);
  'gpuLayers': (number);
  'flashAttention': (_hearth_v1_FlashAttention__Output);
}
