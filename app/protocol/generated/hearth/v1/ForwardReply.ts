// Original file: proto/hearth/v1/node.proto


export interface ForwardReply {
}

export interface ForwardReply__Output {
}
