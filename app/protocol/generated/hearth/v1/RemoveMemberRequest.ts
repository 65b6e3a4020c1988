// Original file: proto/hearth/v1/node.proto


export interface RemoveMemberRequest {
  'nodeId'?: (string);
}

export interface RemoveMemberRequest__Output {
  'nodeId': (string);
}
