// Original file: proto/hearth/v1/node.proto

export const FlashAttention = {
  FLASH_ATTENTION_AUTO: 'FLASH_ATTENTION_AUTO',
  FLASH_ATTENTION_OFF: 'FLASH_ATTENTION_OFF',
  FLASH_ATTENTION_ON: 'FLASH_ATTENTION_ON',
} as const;

export type FlashAttention =
  | 'FLASH_ATTENTION_AUTO'
  | 0
  | 'FLASH_ATTENTION_OFF'
  | 1
  | 'FLASH_ATTENTION_ON'
  | 2

export type FlashAttention__Output = typeof FlashAttention[keyof typeof FlashAttention]
