// Original file: proto/hearth/v1/node.proto

import type { HostedModel as _hearth_v1_HostedModel, HostedModel__Output as _hearth_v1_HostedModel__Output } from '../../hearth/v1/HostedModel.ts';
import type { Long } from '@grpc/proto-loader';

export interface HostEvent {
  'phase'?: (string);
  'message'?: (string);
  'bytesDone'?: (number | string | Long);
  'bytesTotal'?: (number | string | Long);
  'model'?: (_hearth_v1_HostedModel | null);
}

export interface HostEvent__Output {
  'phase': (string);
  'message': (string);
  'bytesDone': (number);
  'bytesTotal': (number);
  'model': (_hearth_v1_HostedModel__Output | null);
}
