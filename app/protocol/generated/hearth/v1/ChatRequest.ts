// Original file: proto/hearth/v1/node.proto

import type { ChatTurn as _hearth_v1_ChatTurn, ChatTurn__Output as _hearth_v1_ChatTurn__Output } from '../../hearth/v1/ChatTurn.ts';
import type { SamplerParams as _hearth_v1_SamplerParams, SamplerParams__Output as _hearth_v1_SamplerParams__Output } from '../../hearth/v1/SamplerParams.ts';

export interface ChatRequest {
  'messages'?: (_hearth_v1_ChatTurn)[];
  'maxTokens'?: (number);
  'sampler'?: (_hearth_v1_SamplerParams | null);
  'prompt'?: (string);
  'stop'?: (string)[];
}

export interface ChatRequest__Output {
  'messages': (_hearth_v1_ChatTurn__Output)[];
  'maxTokens': (number);
  'sampler': (_hearth_v1_SamplerParams__Output | null);
  'prompt': (string);
  'stop': (string)[];
}
