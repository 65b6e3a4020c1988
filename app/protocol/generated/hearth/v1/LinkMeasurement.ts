// Original file: proto/hearth/v1/node.proto


export interface LinkMeasurement {
  'nodeId'?: (string);
  'latencyMs'?: (number | string);
  'bandwidthMbs'?: (number | string);
  'measuredAtMs'?: (number | string);
}

export interface LinkMeasurement__Output {
  'nodeId': (string);
  'latencyMs': (number);
  'bandwidthMbs': (number);
  'measuredAtMs': (number);
}
