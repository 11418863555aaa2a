import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { createServer, connect, type Socket } from 'node:net'
import { describe, it } from 'node:test'
import { Uint8ArrayList } from 'uint8arraylist'
import { SocketWriter, WriteSlabs } from '../../node/p2p/exchange/data-channel/socket-writer.ts'

const KIB = 1024
const MIB = 1024 * KIB

/** A loopback TCP pair: the client socket, and the sha256 and length of all the server side read. */
async function pair (): Promise<{ socket: Socket, received: Promise<{ digest: string, bytes: number }>, close: () => void }> {
  const { promise: received, resolve } = Promise.withResolvers<{ digest: string, bytes: number }>()
  const server = createServer((peer) => {
    const hash = createHash('sha256')
    let bytes = 0
    peer.on('data', (piece: Buffer) => { hash.update(piece); bytes += piece.byteLength })
    peer.on('end', () => { resolve({ digest: hash.digest('hex'), bytes }); peer.end() })
    peer.on('error', () => {})
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const socket = connect((server.address() as { port: number }).port, '127.0.0.1')
  await new Promise<void>(resolve => socket.once('connect', resolve))
  return { socket, received, close: () => { socket.destroy(); server.close() } }
}

/** Counts socket writes under way at once: the writer must never have two. */
function countWrites (socket: Socket): { max: number, writes: number } {
  const seen = { max: 0, writes: 0 }
  let open = 0
  const write = socket.write.bind(socket) as (data: Uint8Array, cb: (err?: Error | null) => void) => boolean
  socket.write = ((data: Uint8Array, cb: (err?: Error | null) => void) => {
    open++
    seen.writes++
    seen.max = Math.max(seen.max, open)
    return write(data, (err) => { open--; cb(err) })
  }) as Socket['write']
  return seen
}

describe('socket writer', () => {
  it('sends every byte in order with one write under way at a time, across slabs', async () => {
    const { socket, received, close } = await pair()
    try {
      const writes = countWrites(socket)
      const writer = new SocketWriter(socket)
      const expected = createHash('sha256')
      let total = 0
      const send = (data: Uint8Array | Uint8ArrayList): void => {
        for (const piece of data instanceof Uint8Array ? [data] : data) expected.update(piece)
        total += data.byteLength
        writer.write(data)
      }
      // an idle writer writes a single buffer as it is; what follows while it is under way queues
      send(randomBytes(100))
      for (let i = 0; i < 40; i++) {
        const list = new Uint8ArrayList()
        // frame-like pieces, ~1 MiB per list, so lists straddle the 2 MiB slabs
        for (let j = 0; j < 20; j++) list.append(randomBytes(42), randomBytes(1 + ((i * 7919 + j * 104729) % (64 * KIB))))
        send(list)
        if (i % 10 === 0) send(randomBytes(37))
      }
      // a piece larger than a slab
      const big = new Uint8ArrayList(randomBytes(5 * MIB))
      send(big)
      assert.ok(writer.queued > 0, 'the big list waits behind the writes under way')
      await writer.below(1)
      assert.equal(writer.queued, 0)
      socket.end()
      const got = await received
      assert.equal(got.bytes, total)
      assert.equal(got.digest, expected.digest('hex'))
      assert.equal(writes.max, 1, 'never two socket writes at once')
      assert.ok(writes.writes < 40, `lists were coalesced into slabs (${writes.writes} socket writes)`)
    } finally {
      close()
    }
  })

  it('writes large pieces where they lie, and lets the sender reuse its memory only once written', async () => {
    const { socket, received, close } = await pair()
    try {
      const writes = countWrites(socket)
      const slabs = new WriteSlabs()
      const writer = new SocketWriter(socket, slabs)
      const expected = createHash('sha256')
      let total = 0
      const send = (pieces: Uint8Array[], release?: () => void): void => {
        for (const piece of pieces) { expected.update(piece); total += piece.byteLength }
        writer.write(pieces.length === 1 ? pieces[0] : new Uint8ArrayList(...pieces), release)
      }
      // reuse = overwrite: a release that came before the bytes were written would corrupt them
      const reuse = (runs: Uint8Array[]) => () => { for (const run of runs) run.fill(0) }
      send([randomBytes(64 * KIB)])
      let early = 0
      for (let i = 0; i < 4; i++) {
        // a server's pattern: a small frame header, then a run read into a buffer it reuses when told
        const run = randomBytes(MIB)
        send([randomBytes(5), run], reuse([run]))
      }
      // runs released by a later send of small bytes only, which must wait for them too
      const later = [randomBytes(MIB), randomBytes(MIB)]
      for (const run of later) send([randomBytes(5), run])
      send([randomBytes(10)], () => { early = writer.queued; reuse(later)() })
      // nothing to send: released with the last write to come all the same
      let emptyEarly = -1
      send([], () => { emptyEarly = writer.queued })
      await writer.below(1)
      socket.end()
      const got = await received
      assert.equal(got.bytes, total)
      assert.equal(got.digest, expected.digest('hex'), 'every byte arrived as it was before its release')
      assert.equal(early, 0, 'released only once everything before was written')
      assert.equal(emptyEarly, 0, 'an empty send is released once everything before it is written')
      assert.ok(writes.writes >= 7, `each run went out as a write of its own (${writes.writes} writes)`)
      assert.ok(slabs.allocated <= 1, `${slabs.allocated} slabs for the headers alone`)
    } finally {
      close()
    }
  })

  it('stops waiting for room when the socket closes with data queued', async () => {
    const { socket, close } = await pair()
    try {
      const writer = new SocketWriter(socket)
      writer.write(new Uint8ArrayList(randomBytes(MIB)))
      writer.write(new Uint8ArrayList(randomBytes(MIB)))
      const waiting = writer.below(1)
      socket.destroy()
      await assert.rejects(waiting, { code: 'ERR_PEER_GONE' })
    } finally {
      close()
    }
  })

  it('reuses the slabs writers share, burst after burst, instead of allocating new ones', async () => {
    const pairs = [await pair(), await pair()]
    try {
      const slabs = new WriteSlabs()
      const writers = pairs.map(p => new SocketWriter(p.socket, slabs))
      const sent = [0, 0]
      // ten bursts of ~10 MiB behind a write under way: each fills five or six 2 MiB slabs, then drains
      for (let burst = 0; burst < 10; burst++) {
        const w = burst % 2
        writers[w].write(randomBytes(64 * KIB))
        sent[w] += 64 * KIB
        for (let i = 0; i < 10; i++) {
          // pieces small enough to be copied (large ones are written where they lie)
          writers[w].write(new Uint8ArrayList(...Array.from({ length: 16 }, () => randomBytes(64 * KIB))))
          sent[w] += MIB
        }
        await writers[w].below(1)
      }
      for (const p of pairs) p.socket.end()
      const got = await Promise.all(pairs.map(async p => await p.received))
      assert.deepEqual(got.map(g => g.bytes), sent)
      assert.ok(slabs.allocated <= 8, `${slabs.allocated} slabs allocated for ten bursts`)
    } finally {
      for (const p of pairs) p.close()
    }
  })
})
