// Original file: proto/hearth/v1/node.proto


export interface JoinRequestMessage {
  'protocol'?: (string);
  'name'?: (string);
  'nodeId'?: (string);
  'publicKeyPem'?: (string);
  'joinerNonce'?: (string);
  'proof'?: (string);
}

export interface JoinRequestMessage__Output {
  'protocol': (string);
  'name': (string);
  'nodeId': (string);
  'publicKeyPem': (string);
  'joinerNonce': (string);
  'proof': (string);
}
