// Original file: proto/hearth/v1/node.proto

import type { MemberEntry as _hearth_v1_MemberEntry, MemberEntry__Output as _hearth_v1_MemberEntry__Output } from '../../hearth/v1/MemberEntry.ts';

export interface JoinAccept {
  'caCertificatePem'?: (string);
  'certificatePem'?: (string);
  'members'?: (_hearth_v1_MemberEntry)[];
  'proof'?: (string);
}

export interface JoinAccept__Output {
  'caCertificatePem': (string);
  'certificatePem': (string);
  'members': (_hearth_v1_MemberEntry__Output)[];
  'proof': (string);
}
