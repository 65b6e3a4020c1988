// Original file: proto/hearth/v1/node.proto


export interface Released {
  'seqId'?: (number);
  'epoch'?: (number);
}

export interface Released__Output {
  'seqId': (number);
  'epoch': (number);
}
