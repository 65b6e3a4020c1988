// Original file: proto/hearth/v1/node.proto


export interface Release {
  'pipelineId'?: (string);
  'stageIndex'?: (number);
  'seqId'?: (number);
  'epoch'?: (number);
}

export interface Release__Output {
  'pipelineId': (string);
  'stageIndex': (number);
  'seqId': (number);
  'epoch': (number);
}
