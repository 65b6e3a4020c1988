// Original file: proto/hearth/v1/node.proto


export interface CreateInviteRequest {
}

export interface CreateInviteRequest__Output {
}
