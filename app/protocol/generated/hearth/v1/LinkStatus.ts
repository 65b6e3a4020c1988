// Original file: proto/hearth/v1/node.proto


export interface LinkStatus {
  'nextAddress'?: (string);
  'connected'?: (boolean);
  'message'?: (string);
}

export interface LinkStatus__Output {
  'nextAddress': (string);
  'connected': (boolean);
  'message': (string);
}
