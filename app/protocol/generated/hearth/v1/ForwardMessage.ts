// Original file: proto/hearth/v1/node.proto

import type { Activation as _hearth_v1_Activation, Activation__Output as _hearth_v1_Activation__Output } from '../../hearth/v1/Activation.ts';
import type { Release as _hearth_v1_Release, Release__Output as _hearth_v1_Release__Output } from '../../hearth/v1/Release.ts';

export interface ForwardMessage {
  'activation'?: (_hearth_v1_Activation | null);
  'release'?: (_hearth_v1_Release | null);
  'message'?: "activation"|"release";
}

export interface ForwardMessage__Output {
  'activation'?: (_hearth_v1_Activation__Output | null);
  'release'?: (_hearth_v1_Release__Output | null);
  'message'?: "activation"|"release";
}
