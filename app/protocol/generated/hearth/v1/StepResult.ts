// Original file: proto/hearth/v1/node.proto

import type { Long } from '@grpc/proto-loader';

export interface StepResult {
  'seqId'?: (number);
  'epoch'?: (number);
  'step'?: (number | string | Long);
  'sampled'?: (boolean);
  'token'?: (number);
  'stageMs'?: (number | string)[];
}

export interface StepResult__Output {
  'seqId': (number);
  'epoch': (number);
  'step': (number);
  'sampled': (boolean);
  'token': (number);
  'stageMs': (number)[];
}
