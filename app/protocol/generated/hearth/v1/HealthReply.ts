// Original file: proto/hearth/v1/node.proto


export interface HealthReply {
  'serving'?: (boolean);
  'uptimeS'?: (number | string);
}

export interface HealthReply__Output {
  'serving': (boolean);
  'uptimeS': (number);
}
