// Original file: proto/hearth/v1/node.proto

import type { Long } from '@grpc/proto-loader';

export interface StageStatus {
  'pipelineId'?: (string);
  'stageIndex'?: (number);
  'modelSha256'?: (string);
  'layerStart'?: (number);
  'layerEnd'?: (number);
  'layerTotal'?: (number);
  'liveSequences'?: (number)[];
  'batches'?: (number | string | Long);
  'batchedSequences'?: (number | string | Long);
  'batchesExactly'?: (boolean);
  'memoryBytes'?: (number | string | Long);
  'holders'?: (number);
  'stepsDropped'?: (number | string | Long);
  'stepsFailed'?: (number | string | Long);
}

export interface StageStatus__Output {
  'pipelineId': (string);
  'stageIndex': (number);
  'modelSha256': (string);
  'layerStart': (number);
  'layerEnd': (number);
  'layerTotal': (number);
  'liveSequences': (number)[];
  'batches': (number);
  'batchedSequences': (number);
  'batchesExactly': (boolean);
  'memoryBytes': (number);
  'holders': (number);
  'stepsDropped': (number);
  'stepsFailed': (number);
}
