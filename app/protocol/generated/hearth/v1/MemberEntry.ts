// Original file: proto/hearth/v1/node.proto


export interface MemberEntry {
  'nodeId'?: (string);
  'name'?: (string);
  'address'?: (string);
  'removed'?: (boolean);
  'changedAtMs'?: (number | string);
}

export interface MemberEntry__Output {
  'nodeId': (string);
  'name': (string);
  'address': (string);
  'removed': (boolean);
  'changedAtMs': (number);
}
