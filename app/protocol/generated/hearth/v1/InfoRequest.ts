// Original file: proto/hearth/v1/node.proto


export interface InfoRequest {
}

export interface InfoRequest__Output {
}
