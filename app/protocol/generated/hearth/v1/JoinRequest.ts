// Original file: proto/hearth/v1/node.proto


export interface JoinRequest {
  'clusterKey'?: (Buffer | Uint8Array | string);
  'peerName'?: (string);
  'protocol'?: (number);
}

export interface JoinRequest__Output {
  'clusterKey': (Buffer);
  'peerName': (string);
  'protocol': (number);
}
