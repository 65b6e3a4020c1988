// Original file: proto/hearth/v1/node.proto


export interface ProbeRequest {
  'payload'?: (Buffer | Uint8Array | string);
}

export interface ProbeRequest__Output {
  'payload': (Buffer);
}
