// Original file: proto/hearth/v1/node.proto


export interface InviteReply {
  'code'?: (string);
  'expiresAtMs'?: (number | string);
  'inviteId'?: (string);
}

export interface InviteReply__Output {
  'code': (string);
  'expiresAtMs': (number);
  'inviteId': (string);
}
