/** The slice of a level (sub)database with string keys and values that sync's state needs. */
export interface KeyValue {
  get: (key: string) => Promise<string | undefined>
  getMany: (keys: string[]) => Promise<Array<string | undefined>>
  put: (key: string, value: string, options?: { sync?: boolean }) => Promise<void>
  del: (key: string, options?: { sync?: boolean }) => Promise<void>
  batch: (ops: Array<{ type: 'put', key: string, value: string } | { type: 'del', key: string }>, options?: { sync?: boolean }) => Promise<void>
  iterator: (options?: { gt?: string, lt?: string, gte?: string, lte?: string, reverse?: boolean, limit?: number }) => AsyncIterable<[string, string]>
}
