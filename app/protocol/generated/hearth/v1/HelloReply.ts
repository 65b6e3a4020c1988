// Original file: proto/hearth/v1/node.proto


export interface HelloReply {
  'nodeId'?: (string);
  'name'?: (string);
  'version'?: (string);
  'protocol'?: (number);
  'clusterId'?: (string);
}

export interface HelloReply__Output {
  'nodeId': (string);
  'name': (string);
  'version': (string);
  'protocol': (number);
  'clusterId': (string);
}
