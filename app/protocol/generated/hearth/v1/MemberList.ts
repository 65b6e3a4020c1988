// Original file: proto/hearth/v1/node.proto

import type { MemberEntry as _hearth_v1_MemberEntry, MemberEntry__Output as _hearth_v1_MemberEntry__Output } from '../../hearth/v1/MemberEntry.ts';

export interface MemberList {
  'members'?: (_hearth_v1_MemberEntry)[];
}

export interface MemberList__Output {
  'members': (_hearth_v1_MemberEntry__Output)[];
}
