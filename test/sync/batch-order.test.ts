/**
 * BatchOrder, which batch a subscriber fetches next and from whom given what its fellows
 * said: its own offset, one batch at a time from the publisher, the rest from fellows,
 * waiting for what a fellow fetches; and, in a simulated swarm of subscribers sharing one
 * slow publisher whose statements arrive a step late, the publisher sends each batch about
 * once and everyone finishes in little more than one copy's time.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BatchOrder, NO_FELLOWS, offsetOf, type BatchTurn, type SwarmKnowledge } from '../../node/sync/batch-order.ts'
import { CHUNK_BATCH_CONCURRENCY } from '../../node/sync/constants.ts'

function drain (order: BatchOrder): number[] {
  const out: number[] = []
  for (let t = order.next(NO_FELLOWS); t !== undefined; t = order.next(NO_FELLOWS)) {
    assert.notEqual(t, 'wait')
    const turn = t as BatchTurn
    assert.equal(turn.from, 'publisher')
    out.push(turn.index)
    order.done(turn)
  }
  return out
}

function knowing (held: number[], claimed: number[]): SwarmKnowledge {
  return { fellows: true, held: i => held.includes(i), claimed: i => claimed.includes(i) }
}

describe('BatchOrder', () => {
  it('with no fellows starts at its offset and goes round once, all from the publisher', () => {
    assert.deepEqual(drain(new BatchOrder(10, 0.35)), [3, 4, 5, 6, 7, 8, 9, 0, 1, 2])
    assert.deepEqual(drain(new BatchOrder(3, 0)), [0, 1, 2])
    assert.deepEqual(drain(new BatchOrder(0, 0.5)), [])
    assert.deepEqual(drain(new BatchOrder(4, 0.999)), [3, 0, 1, 2])
  })

  it('with no fellows keeps every turn on the publisher', () => {
    const order = new BatchOrder(4, 0)
    assert.deepEqual(order.next(NO_FELLOWS), { index: 0, from: 'publisher' })
    assert.deepEqual(order.next(NO_FELLOWS), { index: 1, from: 'publisher' })
    assert.equal(order.fromPublisher, 2)
  })

  it('with fellows keeps one batch from the publisher, fetches held batches from fellows, and waits for claimed ones', () => {
    const order = new BatchOrder(6, 0)
    const swarm = knowing([4], [1, 2, 3, 5])
    assert.deepEqual(order.next(swarm), { index: 0, from: 'publisher' })
    assert.deepEqual(order.next(swarm), { index: 4, from: 'fellows' }, 'a fellow holds 4')
    assert.equal(order.next(swarm), 'wait', 'the rest are being fetched by fellows')
    assert.deepEqual(order.next(knowing([], [1, 2, 3, 5]), false), { index: 1, from: 'publisher' }, 'impatient: the publisher sends a claimed batch')
  })

  it('picks a free batch by its rank among the fellows still fetching, or by its offset before it knows them', () => {
    const rank = (index: number, of: number, held: number[], claimed: number[]): SwarmKnowledge => ({ ...knowing(held, claimed), rank: { index, of } })
    // free: 0, 3, 4, 6..9 (7 batches) for 4 nodes: ranks 0..3 take the 1st, 2nd, 4th and 6th
    const picks = [0, 1, 2, 3].map(r => (new BatchOrder(10, 0.5).next(rank(r, 4, [1, 2], [5])) as BatchTurn).index)
    assert.deepEqual(picks, [0, 3, 6, 8])
    // two free batches for four nodes: ranks 0 and 1 take them, the others fetch from fellows or wait
    const few = [0, 1, 2, 3].map(r => new BatchOrder(4, 0).next(rank(r, 4, [2], [3])))
    assert.deepEqual(few, [{ index: 0, from: 'publisher' }, { index: 1, from: 'publisher' }, { index: 2, from: 'fellows' }, { index: 2, from: 'fellows' }])
    // before it knows any fellow's rank: its offset among the free ones (0..4, 7..9: half way is 4)
    assert.deepEqual(new BatchOrder(10, 0.5).next(knowing([5], [6])), { index: 4, from: 'publisher' })
  })

  it('gives different nodes different, stable offsets', () => {
    const offsets = ['12D3KooWA', '12D3KooWB', '12D3KooWC'].map(offsetOf)
    assert.equal(new Set(offsets).size, 3)
    for (const o of offsets) assert.ok(o >= 0 && o < 1)
    assert.equal(offsetOf('12D3KooWA'), offsets[0])
  })

  /**
   * A swarm in discrete steps, as the sync runs it: each node has CHUNK_BATCH_CONCURRENCY workers; the publisher
   * sends one batch's worth per step, shared among the batches asked of it; a fellow sends a
   * held batch in one step; a node sees what the others held and fetched at the end of the
   * step before (statements take time to arrive, so nodes starting together race for the
   * same batches at first); a waiting worker that hears nothing new for `stall` steps asks
   * impatiently. At step 0 no node has heard from any other (the grace: one publisher turn).
   */
  function simulate (nodes: number, batches: number, stall = 20): { sent: number, slowest: number } {
    const orders = Array.from({ length: nodes }, (_, n) => new BatchOrder(batches, offsetOf(`12D3KooW-node-${n}`)))
    const holds = Array.from({ length: nodes }, () => new Set<number>())
    // rank by peer id among all (as the sync computes it from the fellows that spoke)
    const ids = Array.from({ length: nodes }, (_, n) => `12D3KooW-node-${n}`)
    const rankOf = (n: number): { index: number, of: number } => {
      const active = ids.filter((id, m) => m === n || holds[m].size < batches).sort()
      return { index: active.indexOf(ids[n]), of: active.length }
    }
    const workers = Array.from({ length: nodes }, () => Array.from({ length: CHUNK_BATCH_CONCURRENCY }, () => ({ turn: undefined as BatchTurn | undefined, left: 0, quiet: 0 })))
    let seenHolds = holds.map(h => new Set(h))
    let seenClaims = Array.from({ length: nodes }, () => new Set<number>())
    let sent = 0
    const finished = new Array<number>(nodes).fill(-1)
    for (let step = 0; finished.includes(-1) && step < 10 * nodes * batches; step++) {
      for (let n = 0; n < nodes; n++) {
        const others = (sets: Array<Set<number>>, i: number): boolean => sets.some((s, m) => m !== n && s.has(i))
        const swarm: SwarmKnowledge = { fellows: true, held: i => others(seenHolds, i), claimed: i => others(seenClaims, i), rank: step === 0 ? undefined : rankOf(n) }
        for (const w of workers[n]) {
          if (w.turn !== undefined) continue
          const turn = orders[n].next(swarm, w.quiet < stall)
          if (turn === 'wait') { w.quiet++; continue }
          w.quiet = 0
          if (turn === undefined) continue
          // a fellow named as holding it holds it (statements only grow)
          w.turn = turn
          w.left = 1
        }
        if (orders[n].remaining === 0 && workers[n].every(w => w.turn === undefined) && finished[n] === -1) finished[n] = step
      }
      const asking = workers.flat().filter(w => w.turn?.from === 'publisher')
      for (const w of workers.flat()) {
        if (w.turn === undefined) continue
        w.left -= w.turn.from === 'publisher' ? 1 / asking.length : 1
      }
      for (let n = 0; n < nodes; n++) {
        for (const w of workers[n]) {
          if (w.turn === undefined || w.left > 1e-9) continue
          if (w.turn.from === 'publisher') sent++
          holds[n].add(w.turn.index)
          orders[n].done(w.turn)
          w.turn = undefined
          for (const o of workers[n]) o.quiet = 0
        }
      }
      seenHolds = holds.map(h => new Set(h))
      seenClaims = workers.map(ws => new Set(ws.filter(w => w.turn?.from === 'publisher').map(w => w.turn!.index)))
    }
    for (const h of holds) assert.equal(h.size, batches)
    return { sent, slowest: Math.max(...finished) }
  }

  for (const [nodes, batches] of [[8, 16], [6, 16], [6, 60]]) {
    it(`in a simulated swarm of ${nodes} nodes and ${batches} batches the publisher sends each batch about once`, () => {
      const { sent, slowest } = simulate(nodes, batches)
      console.log(`simulated swarm: ${nodes} nodes, ${batches} batches: the publisher sent ${sent}, the last node finished at step ${slowest}`)
      assert.ok(sent <= 1.25 * batches, `the publisher sent ${sent} batches for ${batches}`)
      assert.ok(slowest <= 1.5 * batches, `the last node finished after ${slowest} steps (one copy: ${batches})`)
    })
  }
})
