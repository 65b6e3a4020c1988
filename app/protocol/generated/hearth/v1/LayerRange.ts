// Original file: proto/hearth/v1/node.proto


export interface LayerRange {
  'start'?: (number);
  'end'?: (number);
}

export interface LayerRange__Output {
  'start': (number);
  'end': (number);
}
