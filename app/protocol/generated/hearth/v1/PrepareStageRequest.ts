// Original file: proto/hearth/v1/node.proto

import type { LayerRange as _hearth_v1_LayerRange, LayerRange__Output as _hearth_v1_LayerRange__Output } from '../../hearth/v1/LayerRange.ts';
import type { StageOptions as _hearth_v1_StageOptions, StageOptions__Output as _hearth_v1_StageOptions__Output } from '../../hearth/v1/StageOptions.ts';
import type { DType as _hearth_v1_DType, DType__Output as _hearth_v1_DType__Output } from '../../hearth/v1/DType.ts';
import type { Long } from '@grpc/proto-loader';

export interface PrepareStageRequest {
  'pipelineId'?: (string);
  'stageIndex'?: (number);
  'stageCount'?: (number);
  'modelSha256'?: (string);
  'layers'?: (_hearth_v1_LayerRange | null);
  'layerTotal'?: (number);
  'stageSha256'?: (string);
  'stageBytes'?: (number | string | Long);
  'options'?: (_hearth_v1_StageOptions | null);
  'nextAddress'?: (string);
  'coordinatorName'?: (string);
  'activations'?: (_hearth_v1_DType);
  'pipelineKey'?: (string);
  'stageHeader'?: (Buffer | Uint8Array | string);
  'nextNodeId'?: (string);
}

export interface PrepareStageRequest__Output {
  'pipelineId': (string);
  'stageIndex': (number);
  'stageCount': (number);
  'modelSha256': (string);
  'layers': (_hearth_v1_LayerRange__Output | null);
  'layerTotal': (number);
  'stageSha256': (string);
  'stageBytes': (number);
  'options': (_hearth_v1_StageOptions__Output | null);
  'nextAddress': (string);
  'coordinatorName': (string);
  'activations': (_hearth_v1_DType__Output);
  'pipelineKey': (string);
  'stageHeader': (Buffer);
  'nextNodeId': (string);
}
