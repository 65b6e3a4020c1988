// Original file: proto/hearth/v1/node.proto


export interface JoinChallenge {
  'protocol'?: (string);
  'clusterId'?: (string);
  'inviterNodeId'?: (string);
  'inviterName'?: (string);
  'inviterNonce'?: (string);
}

export interface JoinChallenge__Output {
  'protocol': (string);
  'clusterId': (string);
  'inviterNodeId': (string);
  'inviterName': (string);
  'inviterNonce': (string);
}
