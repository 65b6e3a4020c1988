// Original file: proto/hearth/v1/node.proto


export interface PeersReply {
  'viewJson'?: (string);
}

export interface PeersReply__Output {
  'viewJson': (string);
}
