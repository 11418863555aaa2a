/** Test fixture: the slice of level the registry link uses, in memory. */
import type { KeyValue } from '../../node/sync/kv.ts'

/** A sorted in-memory KeyValue (the slice of level the link uses). */
export function memoryKv (): KeyValue & { data: Map<string, string> } {
  const data = new Map<string, string>()
  const sorted = (): Array<[string, string]> => [...data].sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)
  return {
    data,
    get: async k => data.get(k),
    getMany: async ks => ks.map(k => data.get(k)),
    put: async (k, v) => { data.set(k, v) },
    del: async k => { data.delete(k) },
    batch: async ops => { for (const op of ops) if (op.type === 'put') data.set(op.key, op.value); else data.delete(op.key) },
    iterator: (o = {}) => (async function * () {
      let n = 0
      for (const e of sorted()) {
        if (o.limit !== undefined && n >= o.limit) return
        n++
        yield e
      }
    })()
  }
}
