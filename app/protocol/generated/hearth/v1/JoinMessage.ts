// Original file: proto/hearth/v1/node.proto

import type { JoinChallenge as _hearth_v1_JoinChallenge, JoinChallenge__Output as _hearth_v1_JoinChallenge__Output } from '../../hearth/v1/JoinChallenge.ts';
import type { JoinRequestMessage as _hearth_v1_JoinRequestMessage, JoinRequestMessage__Output as _hearth_v1_JoinRequestMessage__Output } from '../../hearth/v1/JoinRequestMessage.ts';
import type { JoinAccept as _hearth_v1_JoinAccept, JoinAccept__Output as _hearth_v1_JoinAccept__Output } from '../../hearth/v1/JoinAccept.ts';

export interface JoinMessage {
  'challenge'?: (_hearth_v1_JoinChallenge | null);
  'request'?: (_hearth_v1_JoinRequestMessage | null);
  'accept'?: (_hearth_v1_JoinAccept | null);
  'message'?: "challenge"|"request"|"accept";
}

export interface JoinMessage__Output {
  'challenge'?: (_hearth_v1_JoinChallenge__Output | null);
  'request'?: (_hearth_v1_JoinRequestMessage__Output | null);
  'accept'?: (_hearth_v1_JoinAccept__Output | null);
  'message'?: "challenge"|"request"|"accept";
}
