// Original file: proto/hearth/v1/node.proto


export interface Attached {
  'stageIndex'?: (number);
}

export interface Attached__Output {
  'stageIndex': (number);
}
