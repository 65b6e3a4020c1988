// Original file: proto/hearth/v1/node.proto


export interface ClosePipelineRequest {
  'pipelineId'?: (string);
}

export interface ClosePipelineRequest__Output {
  'pipelineId': (string);
}
