/**
 * Swarms, this node's end of `/rok/have/1.0.0`, between in-process nodes joined by a fake
 * host (one-shot streams passed as events, no sockets): statements reach the fellows a node
 * serves the bucket to and nobody else, a statement from a peer that may not see the bucket
 * is dropped unread, and a node that recorded the version answers with one holding all of it.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import { cidFor, DAG_CBOR_CODEC, type CID } from '../../protocol/cid.ts'
import { encodeHave, HAVE_PROTOCOL } from '../../protocol/have.ts'
import { Swarms } from '../../node/sync/swarm.ts'
import { pushOneShot, type HeadHost } from '../../node/sync/head.ts'

const BUCKET = 'lab/data'
const version = cidFor(DAG_CBOR_CODEC, Uint8Array.of(9, 9))

/** One end of a fake stream: what one end sends, the other hears as a 'message'; a close is the other's 'remoteCloseWrite'. */
class End extends EventTarget {
  other!: End
  send (data: Uint8Array): boolean {
    queueMicrotask(() => { this.other.dispatchEvent(Object.assign(new Event('message'), { data })) })
    return true
  }

  async close (): Promise<void> {
    queueMicrotask(() => { this.other.dispatchEvent(new Event('remoteCloseWrite')) })
  }

  abort (): void {}
}

type Handler = (stream: any, connection: { remotePeer: PeerId }) => void

interface FakeNode { id: PeerId, host: HeadHost & { getConnections: () => Array<{ remotePeer: PeerId }> }, received: number }

async function network (count: number): Promise<FakeNode[]> {
  const ids = await Promise.all(Array.from({ length: count }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))))
  const handlers = new Map<string, Map<string, Handler>>()
  return ids.map((id) => {
    const mine = new Map<string, Handler>()
    handlers.set(id.toString(), mine)
    const node: FakeNode = {
      id,
      received: 0,
      host: {
        handle: async (protocol, handler) => {
          mine.set(protocol, (stream, connection) => { node.received++; (handler as Handler)(stream, connection) })
        },
        unhandle: async (protocol) => { mine.delete(protocol) },
        dialProtocol: async (peer, protocol) => {
          const handler = handlers.get(peer.toString())?.get(protocol)
          if (handler === undefined) throw new Error(`${peer.toString()} does not speak ${protocol}`)
          const a = new End()
          const b = new End()
          a.other = b
          b.other = a
          handler(b, { remotePeer: id })
          return a as any
        },
        getConnections: () => ids.filter(o => !o.equals(id)).map(remotePeer => ({ remotePeer }))
      }
    }
    return node
  })
}

const until = async (what: string, test: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !test(); i++) await new Promise(resolve => setTimeout(resolve, 10))
  assert.ok(test(), what)
}

describe('Swarms over /rok/have/1.0.0', () => {
  it('tells allowed fellows only, drops an outsider\'s statement, and a node holding the version answers with all of it', async () => {
    const [publisher, self, fellow, holder, outsider] = await network(5)
    const allowed = new Set([self, fellow, holder].map(n => n.id.toString()))
    const heads = new Map<string, CID | undefined>([[holder.id.toString(), version]])
    const swarms = [self, fellow, holder, outsider].map(n => new Swarms({
      host: n.host,
      self: n.id.toString(),
      servable: (peer, bucket) => bucket === BUCKET && allowed.has(peer),
      head: async () => heads.get(n.id.toString())
    }))
    const stops = await Promise.all(swarms.map(async s => await s.start()))
    try {
      const fellowsHeard: string[] = []
      const mine = swarms[0].join(BUCKET, version, 10, publisher.id.toString(), peer => fellowsHeard.push(peer))
      const theirs = swarms[1].join(BUCKET, version, 10, publisher.id.toString(), () => {})
      mine.advertise([{ start: 0, end: 4, state: 'stored' }, { start: 4, end: 6, state: 'fetching' }])
      await until('the fellow heard the statement', () => theirs.view.holders(0, 4).includes(self.id.toString()))
      assert.equal(theirs.view.claimed(5, 6), true)
      // the holder, not syncing the version but holding it, answered: all of it is there
      await until('the holder answered', () => mine.view.holders(0, 10).includes(holder.id.toString()))
      assert.equal(outsider.received, 0, 'a peer that may not see the bucket was told nothing')
      // a statement from the outsider is dropped unread, one from the fellow is taken
      await pushOneShot(outsider.host, self.id, HAVE_PROTOCOL, encodeHave({ bucket: BUCKET, version, chunks: 10, ranges: [{ start: 0, end: 10, state: 'stored' }] }))
      theirs.advertise([{ start: 6, end: 10, state: 'stored' }])
      await until('the fellow\'s statement arrived', () => mine.view.holders(6, 10).includes(fellow.id.toString()))
      assert.ok(!mine.view.knows(outsider.id.toString()), 'the outsider\'s statement was dropped')
      assert.deepEqual(fellowsHeard.sort(), [fellow.id.toString(), holder.id.toString()].sort())
      // closing complete tells the fellows this node holds everything
      mine.close(true)
      await until('the fellow heard it is complete', () => theirs.view.holders(0, 10).includes(self.id.toString()))
      theirs.close(false)
      assert.equal(outsider.received, 0)
    } finally {
      await Promise.all(stops.map(async stop => { await stop() }))
    }
  })
})
