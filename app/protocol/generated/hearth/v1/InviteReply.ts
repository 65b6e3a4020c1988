// Original file: proto/hearth/v1/node.proto


export interface InviteReply {
  'code'?: (string);
  'expiresAtMs'?: (number | string);
  'inviteId'?: (string);
  'joinAddress'?: (string);
  'inviterName'?: (string);
}

export interface InviteReply__Output {
  'code': (string);
  'expiresAtMs': (number);
  'inviteId': (string);
  'joinAddress': (string);
  'inviterName': (string);
}
