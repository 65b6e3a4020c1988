// Original file: proto/hearth/v1/node.proto

export const DType = {
  DTYPE_UNSPECIFIED: 'DTYPE_UNSPECIFIED',
  F32: 'F32',
  F16: 'F16',
} as const;

export type DType =
  | 'DTYPE_UNSPECIFIED'
  | 0
  | 'F32'
  | 1
  | 'F16'
  | 2

export type DType__Output = typeof DType[keyof typeof DType]
