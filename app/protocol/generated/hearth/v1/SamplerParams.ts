// Original file: proto/hearth/v1/node.proto


export interface SamplerParams {
  'temperature'?: (number | string);
  'topK'?: (number);
  'topP'?: (number | string);
  'minP'?: (number | string);
  'repeatPenalty'?: (number | string);
  'repeatLastN'?: (number);
  'frequencyPenalty'?: (number | string);
  'presencePenalty'?: (number | string);
  'seed'?: (number);
}

export interface SamplerParams__Output {
  'temperature': (number);
  'topK': (number);
  'topP': (number);
  'minP': (number);
  'repeatPenalty': (number);
  'repeatLastN': (number);
  'frequencyPenalty': (number);
  'presencePenalty': (number);
  'seed': (number);
}
