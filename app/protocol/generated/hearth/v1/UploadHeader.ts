// Original file: proto/hearth/v1/node.proto

import type { LayerRange as _hearth_v1_LayerRange, LayerRange__Output as _hearth_v1_LayerRange__Output } from '../../hearth/v1/LayerRange.ts';
import type { Long } from '@grpc/proto-loader';

export interface UploadHeader {
  'modelSha256'?: (string);
  'layers'?: (_hearth_v1_LayerRange | null);
  'stageSha256'?: (string);
  'stageBytes'?: (number | string | Long);
}

export interface UploadHeader__Output {
  'modelSha256': (string);
  'layers': (_hearth_v1_LayerRange__Output | null);
  'stageSha256': (string);
  'stageBytes': (number);
}
