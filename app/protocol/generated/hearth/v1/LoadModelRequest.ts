// Original file: proto/hearth/v1/node.proto

import type { DType as _hearth_v1_DType, DType__Output as _hearth_v1_DType__Output } from '../../hearth/v1/DType.ts';

export interface LoadModelRequest {
  'modelPath'?: (string);
  'contextSize'?: (number);
  'maxSequences'?: (number);
  'layers'?: (string);
  'activations'?: (_hearth_v1_DType);
}

export interface LoadModelRequest__Output {
  'modelPath': (string);
  'contextSize': (number);
  'maxSequences': (number);
  'layers': (string);
  'activations': (_hearth_v1_DType__Output);
}
