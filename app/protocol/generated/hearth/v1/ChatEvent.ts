// Original file: proto/hearth/v1/node.proto

import type { ChatDelta as _hearth_v1_ChatDelta, ChatDelta__Output as _hearth_v1_ChatDelta__Output } from '../../hearth/v1/ChatDelta.ts';
import type { ChatResult as _hearth_v1_ChatResult, ChatResult__Output as _hearth_v1_ChatResult__Output } from '../../hearth/v1/ChatResult.ts';

export interface ChatEvent {
  'delta'?: (_hearth_v1_ChatDelta | null);
  'result'?: (_hearth_v1_ChatResult | null);
  'event'?: "delta"|"result";
}

export interface ChatEvent__Output {
  'delta'?: (_hearth_v1_ChatDelta__Output | null);
  'result'?: (_hearth_v1_ChatResult__Output | null);
  'event'?: "delta"|"result";
}
