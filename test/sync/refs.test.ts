import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { chunkCid, parseCid } from '../../protocol/cid.ts'
import { RefIndex } from '../../node/sync/refs.ts'
import type { KeyValue } from '../../node/sync/kv.ts'
import { seededBytes } from '../fixtures/seeded.ts'

/** A KeyValue over a Map that counts getMany calls. */
function mapKv (): KeyValue & { getManyCalls: number, failNext: boolean } {
  const map = new Map<string, string>()
  const kv = {
    getManyCalls: 0,
    failNext: false,
    get: async (key: string) => map.get(key),
    // not async: a failure is thrown at once, as a store may
    getMany: (keys: string[]) => {
      kv.getManyCalls++
      if (kv.failNext) { kv.failNext = false; throw new Error('level is closed') }
      return Promise.resolve(keys.map(k => map.get(k)))
    },
    put: async (key: string, value: string) => { map.set(key, value) },
    del: async (key: string) => { map.delete(key) },
    batch: async (ops: Array<{ type: 'put', key: string, value: string } | { type: 'del', key: string }>) => {
      for (const op of ops) if (op.type === 'put') map.set(op.key, op.value); else map.delete(op.key)
    },
    iterator: async function * () {}
  }
  return kv
}

describe('reverse index lookups', () => {
  it('answers the questions of one turn with one getMany, each with its own answer', async () => {
    const kv = mapKv()
    const refs = new RefIndex(kv)
    const record = parseCid('bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')
    const one = Array.from({ length: 50 }, (_, i) => chunkCid(seededBytes(i, 10)))
    const two = Array.from({ length: 50 }, (_, i) => chunkCid(seededBytes(100 + i, 10)))
    const none = Array.from({ length: 50 }, (_, i) => chunkCid(seededBytes(200 + i, 10)))
    await refs.addBlocks('g/one', record, one)
    await refs.addBlocks('g/two', record, two)
    const before = kv.getManyCalls
    const asked = [...one, ...two, ...none]
    const answers = await Promise.all(asked.map(async (cid, i) => await refs.referencedByAny(cid, i % 3 === 0 ? ['g/two'] : ['g/one', 'g/two'])))
    assert.equal(kv.getManyCalls - before, 1)
    const expected = asked.map((_, i) => i < 100 && (i >= 50 || i % 3 !== 0))
    assert.deepEqual(answers, expected)
    // no bucket: no lookup at all
    assert.equal(await refs.referencedByAny(one[0], []), false)
    assert.equal(kv.getManyCalls - before, 1)
  })

  it('fails every question of a turn whose lookup fails, and answers the next turn again', { timeout: 10_000 }, async () => {
    const kv = mapKv()
    const refs = new RefIndex(kv)
    const cid = chunkCid(seededBytes(1, 10))
    await refs.addBlocks('g/one', parseCid('bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'), [cid])
    kv.failNext = true
    const failed = await Promise.allSettled([refs.referencedByAny(cid, ['g/one']), refs.referencedByAny(cid, ['g/two'])])
    assert.deepEqual(failed.map(r => r.status), ['rejected', 'rejected'])
    assert.equal(await refs.referencedByAny(cid, ['g/one']), true)
  })
})
