// Original file: proto/hearth/v1/node.proto

import type { Long } from '@grpc/proto-loader';

// Original file: proto/hearth/v1/node.proto

export const _hearth_v1_PrepareStageReply_Status = {
  STATUS_UNSPECIFIED: 'STATUS_UNSPECIFIED',
  READY: 'READY',
  NEED_UPLOAD: 'NEED_UPLOAD',
} as const;

export type _hearth_v1_PrepareStageReply_Status =
  | 'STATUS_UNSPECIFIED'
  | 0
  | 'READY'
  | 1
  | 'NEED_UPLOAD'
  | 2

export type _hearth_v1_PrepareStageReply_Status__Output = typeof _hearth_v1_PrepareStageReply_Status[keyof typeof _hearth_v1_PrepareStageReply_Status]

export interface PrepareStageReply {
  'status'?: (_hearth_v1_PrepareStageReply_Status);
  'resumeOffset'?: (number | string | Long);
  'loadMs'?: (number | string);
  'memoryBytes'?: (number | string | Long);
}

export interface PrepareStageReply__Output {
  'status': (_hearth_v1_PrepareStageReply_Status__Output);
  'resumeOffset': (number);
  'loadMs': (number);
  'memoryBytes': (number);
}
