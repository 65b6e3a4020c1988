// Original file: proto/hearth/v1/node.proto

import type { StageStatus as _hearth_v1_StageStatus, StageStatus__Output as _hearth_v1_StageStatus__Output } from '../../hearth/v1/StageStatus.ts';
import type { HostedModel as _hearth_v1_HostedModel, HostedModel__Output as _hearth_v1_HostedModel__Output } from '../../hearth/v1/HostedModel.ts';
import type { LinkMeasurement as _hearth_v1_LinkMeasurement, LinkMeasurement__Output as _hearth_v1_LinkMeasurement__Output } from '../../hearth/v1/LinkMeasurement.ts';
import type { Long } from '@grpc/proto-loader';

export interface NodeInfo {
  'name'?: (string);
  'version'?: (string);
  'protocol'?: (number);
  'os'?: (string);
  'backend'?: (string);
  'totalMemoryBytes'?: (number | string | Long);
  'freeMemoryBytes'?: (number | string | Long);
  'cpuThreads'?: (number);
  'capabilities'?: (string)[];
  'stages'?: (_hearth_v1_StageStatus)[];
  'reservedMemoryBytes'?: (number | string | Long);
  'nodeId'?: (string);
  'clusterId'?: (string);
  'inventoryJson'?: (string);
  'hostedModel'?: (_hearth_v1_HostedModel | null);
  'gpuTotalBytes'?: (number | string | Long);
  'gpuFreeBytes'?: (number | string | Long);
  'links'?: (_hearth_v1_LinkMeasurement)[];
}

export interface NodeInfo__Output {
  'name': (string);
  'version': (string);
  'protocol': (number);
  'os': (string);
  'backend': (string);
  'totalMemoryBytes': (number);
  'freeMemoryBytes': (number);
  'cpuThreads': (number);
  'capabilities': (string)[];
  'stages': (_hearth_v1_StageStatus__Output)[];
  'reservedMemoryBytes': (number);
  'nodeId': (string);
  'clusterId': (string);
  'inventoryJson': (string);
  'hostedModel': (_hearth_v1_HostedModel__Output | null);
  'gpuTotalBytes': (number);
  'gpuFreeBytes': (number);
  'links': (_hearth_v1_LinkMeasurement__Output)[];
}
