// Original file: proto/hearth/v1/node.proto

import type { UploadHeader as _hearth_v1_UploadHeader, UploadHeader__Output as _hearth_v1_UploadHeader__Output } from '../../hearth/v1/UploadHeader.ts';
import type { Long } from '@grpc/proto-loader';

export interface UploadChunk {
  'header'?: (_hearth_v1_UploadHeader | null);
  'offset'?: (number | string | Long);
  'data'?: (Buffer | Uint8Array | string);
}

export interface UploadChunk__Output {
  'header': (_hearth_v1_UploadHeader__Output | null);
  'offset': (number);
  'data': (Buffer);
}
