// Original file: proto/hearth/v1/node.proto

import type { Long } from '@grpc/proto-loader';

export interface ProbeReply {
  'receivedBytes'?: (number | string | Long);
}

export interface ProbeReply__Output {
  'receivedBytes': (number);
}
