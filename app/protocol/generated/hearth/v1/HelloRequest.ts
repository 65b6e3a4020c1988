// Original file: proto/hearth/v1/node.proto


export interface HelloRequest {
}

export interface HelloRequest__Output {
}
