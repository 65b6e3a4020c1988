// Original file: proto/hearth/v1/node.proto


export interface PeersRequest {
  'addAddress'?: (string);
}

export interface PeersRequest__Output {
  'addAddress': (string);
}
