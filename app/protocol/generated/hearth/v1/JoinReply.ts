// Original file: proto/hearth/v1/node.proto

import type { NodeInfo as _hearth_v1_NodeInfo, NodeInfo__Output as _hearth_v1_NodeInfo__Output } from '../../hearth/v1/NodeInfo.ts';

export interface JoinReply {
  'sessionToken'?: (string);
  'node'?: (_hearth_v1_NodeInfo | null);
}

export interface JoinReply__Output {
  'sessionToken': (string);
  'node': (_hearth_v1_NodeInfo__Output | null);
}
