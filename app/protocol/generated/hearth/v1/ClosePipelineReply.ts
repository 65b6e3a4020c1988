// Original file: proto/hearth/v1/node.proto


export interface ClosePipelineReply {
}

export interface ClosePipelineReply__Output {
}
