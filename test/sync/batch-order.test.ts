/**
 * BatchOrder, the order a subscriber fetches a version's batches in: its own offset, put
 * off what a fellow is fetching right now, and (in a simulated swarm of subscribers
 * sharing one slow publisher) the publisher sends each batch about once.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BatchOrder, offsetOf, type BatchTurn } from '../../node/sync/batch-order.ts'

function drain (order: BatchOrder): number[] {
  const out: number[] = []
  for (let t = order.next(); t !== undefined; t = order.next()) {
    out.push(t.index)
    order.done(t.index, false)
  }
  return out
}

describe('BatchOrder', () => {
  it('starts at its offset and goes round once', () => {
    assert.deepEqual(drain(new BatchOrder(10, 0.35)), [3, 4, 5, 6, 7, 8, 9, 0, 1, 2])
    assert.deepEqual(drain(new BatchOrder(3, 0)), [0, 1, 2])
    assert.deepEqual(drain(new BatchOrder(0, 0.5)), [])
    assert.deepEqual(drain(new BatchOrder(4, 0.999)), [3, 0, 1, 2])
  })

  it('puts off a batch the fellows lack right after one they served, jumping to the middle of the longest untried run', () => {
    const order = new BatchOrder(20, 0)
    const first = order.next()!
    assert.equal(order.putOffAfterMiss(first), false, 'nothing before it came from fellows: the publisher sends it')
    order.done(first.index, false)
    const second = order.next()!
    order.done(second.index, true) // batch 1 came from a fellow
    const third = order.next()!
    assert.equal(third.index, 2)
    assert.equal(order.putOffAfterMiss(third), true, 'caught up with the fellow fetching batch 2')
    // untried: 3..19 (17 batches): the middle is 3 + 8
    assert.equal(order.next()!.index, 11)
    assert.equal(order.jumps, 1)
  })

  it('hands a put-off batch out again at the end, once, and never puts it off twice', () => {
    const order = new BatchOrder(4, 0)
    const a = order.next()!
    order.done(a.index, true)
    const b = order.next()!
    assert.equal(order.putOffAfterMiss(b), true)
    const rest: BatchTurn[] = []
    for (let t = order.next(); t !== undefined; t = order.next()) {
      rest.push(t)
      if (t.retry) assert.equal(order.putOffAfterMiss(t), false)
      order.done(t.index, false)
    }
    assert.deepEqual(rest.map(t => [t.index, t.retry]), [[3, false], [2, false], [1, true]], 'the jump lands mid-way through 2..3')
  })

  it('gives different nodes different, stable offsets', () => {
    const offsets = ['12D3KooWA', '12D3KooWB', '12D3KooWC'].map(offsetOf)
    assert.equal(new Set(offsets).size, 3)
    for (const o of offsets) assert.ok(o >= 0 && o < 1)
    assert.equal(offsetOf('12D3KooWA'), offsets[0])
  })

  /**
   * A swarm in discrete steps: the publisher sends one batch per step, shared among the
   * subscribers asking it; fellows serve instantly what they hold; a retried batch waits
   * while a fellow is fetching it (as the sync waits a little for fellows). Without the
   * order (every node from batch 0, publisher only) the publisher would send nodes × batches.
   */
  it('in a simulated swarm the publisher sends each batch about once and all finish in about one copy\'s time', () => {
    const nodes = 6
    const batches = 60
    const orders = Array.from({ length: nodes }, (_, n) => new BatchOrder(batches, offsetOf(`12D3KooW-node-${n}`)))
    const holds = Array.from({ length: nodes }, () => new Set<number>())
    const current: Array<{ turn: BatchTurn, left: number, waiting: boolean } | undefined> = new Array(nodes).fill(undefined)
    const fellowHas = (n: number, index: number): boolean => holds.some((h, m) => m !== n && h.has(index))
    const fetching = (n: number, index: number): boolean => current.some((c, m) => m !== n && c !== undefined && !c.waiting && c.turn.index === index)
    let sent = 0
    let step = 0
    const finished = new Array<number>(nodes).fill(-1)
    while (finished.includes(-1) && step < 10 * nodes * batches) {
      step++
      for (let n = 0; n < nodes; n++) {
        const c = current[n]
        if (c?.waiting === true) {
          if (fellowHas(n, c.turn.index)) {
            holds[n].add(c.turn.index)
            orders[n].done(c.turn.index, true)
            current[n] = undefined
          } else if (!fetching(n, c.turn.index)) c.waiting = false
        }
        // take turns until one needs the publisher or waits
        while (current[n] === undefined && finished[n] === -1) {
          const turn = orders[n].next()
          if (turn === undefined) { finished[n] = step; break }
          if (fellowHas(n, turn.index)) {
            holds[n].add(turn.index)
            orders[n].done(turn.index, true)
          } else if (!orders[n].putOffAfterMiss(turn)) {
            current[n] = { turn, left: 1, waiting: turn.retry && fetching(n, turn.index) }
          }
        }
      }
      const asking = current.filter(c => c !== undefined && !c.waiting)
      for (const c of asking) c!.left -= 1 / asking.length
      for (let n = 0; n < nodes; n++) {
        const c = current[n]
        if (c !== undefined && !c.waiting && c.left <= 1e-9) {
          sent++
          holds[n].add(c.turn.index)
          orders[n].done(c.turn.index, false)
          current[n] = undefined
        }
      }
    }
    for (const h of holds) assert.equal(h.size, batches)
    const slowest = Math.max(...finished)
    console.log(`simulated swarm: ${nodes} nodes, ${batches} batches: the publisher sent ${sent}, the last node finished at step ${slowest}`)
    assert.ok(sent <= 1.5 * batches, `the publisher sent ${sent} batches for ${batches}`)
    assert.ok(slowest <= 1.5 * batches, `the last node finished after ${slowest} steps (one copy: ${batches})`)
  })
})
