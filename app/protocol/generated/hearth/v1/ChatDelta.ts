// Original file: proto/hearth/v1/node.proto


export interface ChatDelta {
  'text'?: (string);
  'tokens'?: (number)[];
}

export interface ChatDelta__Output {
  'text': (string);
  'tokens': (number)[];
}
