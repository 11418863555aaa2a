/**
 * One side of a bench/sync transfer, in its own process. argv[2] is JSON:
 *   { role: 'serve' | 'fetch', mode, bytes, blockSize, addr?, certDir? }
 * modes:
 *   exchange-data                  the Rok chunk exchange as a node runs it: blocks over the data channel
 *                                  (a direct TLS 1.3 socket negotiated over a libp2p+TLS connection)
 *   exchange-data-disk             the same with the node's disk store on both sides
 *   exchange-tls / exchange-noise  the Rok chunk exchange (fetchBlocks) over libp2p streams with that encryption
 *   MODE-inline                    an exchange mode hashing on the event loop instead of the worker thread
 *   exchange-tls-disk              the same with the node's disk store (packs + level index) on both sides
 *   stream-tls / stream-noise      one libp2p stream carrying the same bytes, nothing else
 *   raw-tls                        a plain Node TLS socket carrying the same bytes
 *   raw-tls-store                  a floor for any verifying store: the same socket with the data channel's
 *                                  suites and reused read buffer, the receiver hashing every block against
 *                                  its CID and appending it to a file in 4 MiB O_DIRECT writes (no protocol, no index)
 *   helia                          Helia (bitswap over its libp2p: TCP, Noise, yamux at their defaults)
 *                                  fetching the same bytes as a UnixFS file of blockSize raw leaves
 * A serve process prints {"type":"ready","addr":...}; a fetch process prints
 * {"type":"done", ms, bytes, cpuMs}. Either answers "cpu" on stdin with its CPU time so far.
 *
 * With `warmBytes`, the fetching side first moves that many other bytes the same way
 * (Helia excepted), prints {"type":"warmed"} and waits for "go" on stdin before the timed
 * transfer: a node is a long-running daemon whose code V8 has compiled by its second sync,
 * while a fresh process spends its first second or so in V8's lower tiers and compiling.
 */
import { constants, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { unixfs } from '@helia/unixfs'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { createHelia } from 'helia'
import { CID } from 'multiformats/cid'
import { createInterface } from 'node:readline'
import { connect, createServer, type ConnectionOptions } from 'node:tls'
import { open } from 'node:fs/promises'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import type { Stream } from '@libp2p/interface'
import { createRokHost, type Encryption } from '../../node/p2p/host.ts'
import { MemoryBlockStore } from '../../node/store/memory.ts'
import { openDiskStore, type BinaryIndex } from '../../node/store/index.ts'
import { generateBlocks } from '../../test/p2p/fixtures/blocks.ts'
import { DATA_CHANNEL_CIPHERS } from '../../node/p2p/constants.ts'
import { bytesMatchCid } from '../../protocol/cid.ts'
import { alignedBuffer } from '../../node/store/aligned-buffer.ts'

interface Config {
  role: 'serve' | 'fetch'
  mode: 'exchange-data' | 'exchange-data-disk' | 'exchange-tls' | 'exchange-data-disk-inline' | 'exchange-tls-disk' | 'exchange-noise' | 'stream-tls' | 'stream-noise' | 'raw-tls' | 'raw-tls-store' | 'helia'
  bytes: number
  blockSize: number
  addr?: string
  /** helia: the file's root CID, from the serving side's ready message. */
  cid?: string
  certDir?: string
  /** Exchange window (blocks in flight), to study its effect. */
  window?: number
  /** Bytes moved before the timed transfer (see the file comment). */
  warmBytes?: number
}

const config: Config = JSON.parse(process.argv[2])
const STREAM_PROTOCOL = '/rok/bench-stream/1.0.0'
const spec = { seed: 7, count: Math.ceil(config.bytes / config.blockSize), size: config.blockSize }
/** Other blocks, for the warm-up transfer. */
const warmSpec = { seed: 8, count: Math.ceil((config.warmBytes ?? 0) / config.blockSize), size: config.blockSize }
const warming = warmSpec.count > 0 && config.mode !== 'helia'
const WARM_PROTOCOL = '/rok/bench-warm/1.0.0'

function out (message: unknown): void {
  process.stdout.write(JSON.stringify(message) + '\n')
}

function cpuMs (): number {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

const go = Promise.withResolvers<void>()
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'cpu') out({ type: 'cpu', cpuMs: cpuMs(), rss: process.memoryUsage().rss })
  if (line === 'go') go.resolve()
  if (line === 'exit') process.exit(0)
})

/** The warm-up transfer is over: say so and wait for the runner to begin timing. */
async function warmed (): Promise<void> {
  out({ type: 'warmed' })
  await go.promise
}

/** Writes of the stream baselines: large, so each baseline is as fast as it can be. */
const BASELINE_WRITE_BYTES = 1024 * 1024

/** The same bytes for every mode: the generated blocks, back to back, in 1 MiB writes. */
function payload (blocks = spec): Uint8Array[] {
  const pieces: Uint8Array[] = []
  let current: Uint8Array[] = []
  let size = 0
  for (const { bytes } of generateBlocks(blocks)) {
    current.push(bytes)
    size += bytes.byteLength
    if (size >= BASELINE_WRITE_BYTES) {
      pieces.push(Buffer.concat(current))
      current = []
      size = 0
    }
  }
  if (current.length > 0) pieces.push(Buffer.concat(current))
  return pieces
}

const encryption: Encryption = config.mode.includes('noise') ? 'noise' : 'tls'

if (config.mode === 'helia') {
  const serving = config.role === 'serve'
  // Helia as a user would run it on a private network: its bitswap and libp2p, no public
  // bootstrap, DHT, delegated routers or gateways (they would reach out of the machine)
  const helia = await createHelia({
    libp2p: {
      addresses: { listen: serving ? ['/ip4/127.0.0.1/tcp/0'] : [] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      peerDiscovery: [],
      services: { identify: identify() }
    },
    http: { delegatedRouters: [], recursiveGateways: [] }
  })
  await helia.start()
  const fs = unixfs(helia)
  if (serving) {
    const cid = await fs.addByteStream((async function * () { yield * payload() })(), { chunker: fixedChunks(config.blockSize), rawLeaves: true })
    out({ type: 'ready', addr: helia.libp2p.getMultiaddrs()[0].toString(), cid: cid.toString() })
  } else {
    await helia.libp2p.dial(multiaddr(config.addr!))
    const start = performance.now()
    const cpu0 = cpuMs()
    let bytes = 0
    for await (const piece of fs.cat(CID.parse(config.cid!), { signal: AbortSignal.timeout(1_800_000) })) bytes += piece.byteLength
    // the connection stays up until "exit", so the runner can read its byte counters
    out({ type: 'done', ms: performance.now() - start, bytes, cpuMs: cpuMs() - cpu0, rss: process.memoryUsage().rss })
  }
} else if (config.mode === 'raw-tls' || config.mode === 'raw-tls-store') {
  const suites = config.mode === 'raw-tls-store' ? { ciphers: DATA_CHANNEL_CIPHERS } : {}
  if (config.role === 'serve') {
    const pieces = payload()
    // the first connection of a warming client carries the warm-up bytes, and ends
    let warm = warming ? payload(warmSpec) : undefined
    const server = createServer({
      key: readFileSync(`${config.certDir}/key.pem`),
      cert: readFileSync(`${config.certDir}/cert.pem`),
      ...suites
    }, (socket) => {
      const sending = warm ?? pieces
      const ends = warm !== undefined
      warm = undefined
      let i = 0
      const write = (): void => {
        while (i < sending.length) {
          if (!socket.write(sending[i++])) { socket.once('drain', write); return }
        }
        // not ended: the client stops at the byte count and the connection stays up for `ss`
        if (ends) socket.end()
      }
      write()
    })
    server.listen(0, '127.0.0.1', () => {
      const address = server.address() as { port: number }
      out({ type: 'ready', addr: `127.0.0.1:${address.port}` })
    })
  } else if (config.mode === 'raw-tls-store') {
    if (warming) {
      await rawTlsStore(warmSpec)
      await warmed()
    }
    const done = await rawTlsStore(spec)
    out({ type: 'done', ...done, rss: process.memoryUsage().rss })
  } else {
    if (warming) {
      await rawTlsRead(warmSpec.count * warmSpec.size)
      await warmed()
    }
    const done = await rawTlsRead(config.bytes)
    out({ type: 'done', ...done, rss: process.memoryUsage().rss })
  }
} else {
  const serving = config.role === 'serve'
  const store = config.mode.includes('-disk') ? await diskStore() : new MemoryBlockStore()
  if (serving && config.mode.startsWith('exchange')) {
    for (const block of generateBlocks(spec)) await store.put(block.cid, block.bytes)
    if (warming) for (const block of generateBlocks(warmSpec)) await store.put(block.cid, block.bytes)
    await store.flush()
  }
  const host = await createRokHost({
    privateKey: await generateKeyPair('Ed25519'),
    listen: serving ? ['/ip4/127.0.0.1/tcp/0'] : [],
    encryption: [encryption],
    dataChannel: config.mode.startsWith('exchange-data') ? {} : false,
    exchange: { store, authorize: () => true, window: config.window, hashWorker: !config.mode.endsWith('-inline') }
  })
  if (serving) {
    if (config.mode.startsWith('stream')) {
      const send = (pieces: Uint8Array[]) => async (stream: Stream): Promise<void> => {
        for (const piece of pieces) {
          if (!stream.send(piece)) await stream.onDrain()
        }
        await stream.close()
      }
      await host.handle(STREAM_PROTOCOL, send(payload()))
      if (warming) await host.handle(WARM_PROTOCOL, send(payload(warmSpec)))
    }
    out({ type: 'ready', addr: host.getMultiaddrs()[0].toString(), dataPort: host.services.exchange.serveStats().dataChannel?.port })
  } else {
    const addr = multiaddr(config.addr!)
    await host.dial(addr)
    if (config.mode.startsWith('stream')) {
      const read = async (protocol: string): Promise<{ ms: number, bytes: number, cpuMs: number }> => {
        const start = performance.now()
        const cpu0 = cpuMs()
        const stream = await host.dialProtocol(addr, protocol)
        let bytes = 0
        stream.addEventListener('message', (evt) => { bytes += evt.data.byteLength })
        await new Promise<void>(resolve => {
          stream.addEventListener('remoteCloseWrite', () => { resolve() })
          stream.addEventListener('close', () => { resolve() })
        })
        return { ms: performance.now() - start, bytes, cpuMs: cpuMs() - cpu0 }
      }
      if (warming) {
        await read(WARM_PROTOCOL)
        await warmed()
      }
      out({ type: 'done', ...await read(STREAM_PROTOCOL), rss: process.memoryUsage().rss })
    } else {
      // only the CIDs stay: holding every generated block until the list is built left
      // 268 MB of garbage for the collector to find during the timed fetch
      const cids: CID[] = []
      for (const block of generateBlocks(spec)) cids.push(block.cid)
      if (warming) {
        const warm: CID[] = []
        for (const block of generateBlocks(warmSpec)) warm.push(block.cid)
        const report = await host.services.exchange.fetchBlocks(warm, { peers: [addr], signal: AbortSignal.timeout(600_000), absent: true })
        await store.flush()
        if (report.blocks !== warm.length) throw new Error(`warm-up fetch incomplete: ${report.missing.length} missing`)
        await warmed()
      }
      // lets a profiler attach for the timed part only
      out({ type: 'started' })
      const start = performance.now()
      const cpu0 = cpuMs()
      // as a sync fetches: blocks it found missing (this store is empty), under a gc lease
      const report = await host.services.exchange.fetchBlocks(cids, { peers: [addr], signal: AbortSignal.timeout(600_000), absent: true })
      await store.flush()
      if (report.missing.length > 0 || report.blocks !== cids.length) throw new Error(`fetch incomplete: ${report.missing.length} missing; peers ${JSON.stringify(report.peers)}`)
      out({ type: 'done', ms: performance.now() - start, bytes: report.bytes, cpuMs: cpuMs() - cpu0, rss: process.memoryUsage().rss })
    }
  }
}

/** The fetching side of raw-tls: reads `total` bytes from a new connection; its socket stays up for `ss`. */
async function rawTlsRead (total: number): Promise<{ ms: number, bytes: number, cpuMs: number }> {
  const [host, port] = config.addr!.split(':')
  const socket = connect({ host, port: Number(port), rejectUnauthorized: false })
  const { promise, resolve, reject } = Promise.withResolvers<{ ms: number, bytes: number, cpuMs: number }>()
  socket.once('error', reject)
  socket.once('secureConnect', () => {
    const start = performance.now()
    const cpu0 = cpuMs()
    let bytes = 0
    socket.on('data', (d: Buffer) => {
      bytes += d.byteLength
      if (bytes >= total) resolve({ ms: performance.now() - start, bytes, cpuMs: cpuMs() - cpu0 })
    })
  })
  return await promise
}

/**
 * The fetching side of raw-tls-store: decrypt, cut blocks, hash each against its CID, append
 * to a file. Four 4 MiB write buffers rotate so hashing goes on while one is written. 1 GiB
 * in 16 KiB blocks fills every write whole, so each is aligned for O_DIRECT.
 */
async function rawTlsStore (blocks: typeof spec): Promise<{ ms: number, bytes: number, cpuMs: number }> {
  const cids: CID[] = []
  for (const block of generateBlocks(blocks)) cids.push(block.cid)
  const total = blocks.count * blocks.size
  const dir = mkdtempSync(join(tmpdir(), 'rok-bench-floor-'))
  process.on('exit', () => { rmSync(dir, { recursive: true, force: true }) })
  // O_DIRECT as the node's store writes packs: on these VMs the page cache's copy into fresh
  // pages costs more than the decryption
  const file = await open(join(dir, 'blocks'), constants.O_WRONLY | constants.O_CREAT | constants.O_DIRECT)
  const WRITE = 4 * 1024 * 1024 - (4 * 1024 * 1024) % config.blockSize
  const free: Uint8Array[] = Array.from({ length: 4 }, () => alignedBuffer(WRITE))
  const waiting: Array<() => void> = []
  let current = free.pop()!
  let used = 0
  let block = 0
  let bytes = 0
  let position = 0
  let writes = Promise.resolve()
  let start = 0
  let cpu0 = 0
  const [host, port] = config.addr!.split(':')
  const { promise: done, resolve, reject } = Promise.withResolvers<void>()
  const write = (buffer: Uint8Array, length: number): void => {
    const at = position
    position += length
    writes = writes.then(async () => { await file.write(buffer, 0, length, at) }).then(() => {
      free.push(buffer)
      waiting.shift()?.()
    }, reject)
  }
  let hashed = 0
  let paused = false
  out({ type: 'started' })
  const socket = connect({
    host, port: Number(port), rejectUnauthorized: false, ciphers: DATA_CHANNEL_CIPHERS,
    onread: {
      buffer: Buffer.allocUnsafeSlow(64 * 1024),
      callback: (n: number, buffer: Uint8Array): boolean => {
        let at = 0
        while (at < n) {
          const take = Math.min(n - at, WRITE - used)
          current.set(buffer.subarray(at, at + take), used)
          used += take
          at += take
          bytes += take
          // each block is hashed as soon as it is whole
          for (; hashed + config.blockSize <= used; hashed += config.blockSize) {
            if (!bytesMatchCid(cids[block++], current.subarray(hashed, hashed + config.blockSize))) reject(new Error(`block ${block - 1} does not match its CID`))
          }
          if (used === WRITE || bytes >= total) {
            write(current, used)
            used = 0
            hashed = 0
            // every buffer in flight to the disk: take one more and stop reading until a write ends
            current = free.pop() ?? alignedBuffer(WRITE)
            if (free.length === 0 && !paused) {
              paused = true
              waiting.push(() => { paused = false; socket.resume() })
            }
          }
        }
        if (bytes >= total) resolve()
        return !paused
      }
    }
  } as ConnectionOptions)
  socket.once('secureConnect', () => { start = performance.now(); cpu0 = cpuMs() })
  socket.once('error', reject)
  await done
  await writes
  await file.sync()
  await file.close()
  return { ms: performance.now() - start, bytes, cpuMs: cpuMs() - cpu0 }
}

/** The node's own store (packs and a level index) in a temporary folder removed at exit. */
async function diskStore (): Promise<Awaited<ReturnType<typeof openDiskStore>>> {
  const dir = mkdtempSync(join(tmpdir(), 'rok-bench-store-'))
  process.on('exit', () => { rmSync(dir, { recursive: true, force: true }) })
  // as a node's engine opens it: the index is a sublevel of the home's db (prefixed keys cost ~10% more per put)
  const db = new Level<string, string>(join(dir, 'index'))
  await db.open()
  const index = db.sublevel<Uint8Array, Uint8Array>('blocks', { keyEncoding: 'view', valueEncoding: 'view' }) as unknown as BinaryIndex
  return await openDiskStore({ dir: join(dir, 'packs'), index })
}

/** Cuts the payload into blocks of `size` bytes: the same blocks the other modes move. */
function fixedChunks (size: number): (source: AsyncIterable<Uint8Array>) => AsyncIterable<Uint8Array> {
  return async function * (source) {
    let carry: Uint8Array = new Uint8Array(0)
    for await (const piece of source) {
      let bytes = carry.byteLength === 0 ? piece : Buffer.concat([carry, piece])
      while (bytes.byteLength >= size) {
        yield bytes.subarray(0, size)
        bytes = bytes.subarray(size)
      }
      carry = bytes
    }
    if (carry.byteLength > 0) yield carry
  }
}
