// Original file: proto/hearth/v1/node.proto


export interface AttachRequest {
  'pipelineId'?: (string);
  'stageIndex'?: (number);
}

export interface AttachRequest__Output {
  'pipelineId': (string);
  'stageIndex': (number);
}
