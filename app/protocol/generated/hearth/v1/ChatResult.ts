// Original file: proto/hearth/v1/node.proto


export interface ChatResult {
  'stopReason'?: (string);
  'promptTokens'?: (number)[];
  'tokens'?: (number)[];
  'text'?: (string);
  'timeToFirstTokenMs'?: (number | string);
  'decodeTokensPerSecond'?: (number | string);
  'hostName'?: (string);
  'planVersion'?: (number);
}

export interface ChatResult__Output {
  'stopReason': (string);
  'promptTokens': (number)[];
  'tokens': (number)[];
  'text': (string);
  'timeToFirstTokenMs': (number);
  'decodeTokensPerSecond': (number);
  'hostName': (string);
  'planVersion': (number);
}
