// Original file: proto/hearth/v1/node.proto


export interface ChatTurn {
  'role'?: (string);
  'content'?: (string);
}

export interface ChatTurn__Output {
  'role': (string);
  'content': (string);
}
