// Original file: proto/hearth/v1/node.proto

import type { Long } from '@grpc/proto-loader';

export interface StepError {
  'seqId'?: (number);
  'epoch'?: (number);
  'step'?: (number | string | Long);
  'node'?: (string);
  'message'?: (string);
  'grpcCode'?: (number);
}

export interface StepError__Output {
  'seqId': (number);
  'epoch': (number);
  'step': (number);
  'node': (string);
  'message': (string);
  'grpcCode': (number);
}
