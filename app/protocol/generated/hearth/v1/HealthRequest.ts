// Original file: proto/hearth/v1/node.proto


export interface HealthRequest {
}

export interface HealthRequest__Output {
}
