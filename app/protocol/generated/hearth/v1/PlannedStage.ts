// Original file: proto/hearth/v1/node.proto

import type { Long } from '@grpc/proto-loader';

export interface PlannedStage {
  'nodeId'?: (string);
  'name'?: (string);
  'layerStart'?: (number);
  'layerEnd'?: (number);
  'memoryBytes'?: (number | string | Long);
  'gpuLayers'?: (number);
  'predictedMsPerToken'?: (number | string);
}

export interface PlannedStage__Output {
  'nodeId': (string);
  'name': (string);
  'layerStart': (number);
  'layerEnd': (number);
  'memoryBytes': (number);
  'gpuLayers': (number);
  'predictedMsPerToken': (number);
}
