// Original file: proto/hearth/v1/node.proto

import type { Long } from '@grpc/proto-loader';

export interface UploadReply {
  'bytesReceived'?: (number | string | Long);
  'complete'?: (boolean);
}

export interface UploadReply__Output {
  'bytesReceived': (number);
  'complete': (boolean);
}
