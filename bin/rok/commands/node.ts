import type { Command } from '../../cli/command.ts'
import { withNode } from './engine.ts'
import { connectToNode } from '../../../node/api/client.ts'
import { RokError } from '../../../protocol/errors.ts'
import { UsageError } from '../../cli/run.ts'
import { MIN_UPLOAD_RATE } from '../../../node/p2p/exchange/upload-limit.ts'
import { NOT_LOGGED_IN, loadCredentials } from '../../../registry/credentials.ts'

const start: Command = {
  name: 'start',
  summary: 'run the node daemon in the foreground (libp2p host + local API)',
  usage: 'node start [--listen MULTIADDR]... [--api HOST:PORT] [--bootstrap MULTIADDR]... [--registry URL]',
  description: `Runs this home's node until interrupted (Ctrl-C or SIGTERM stop it cleanly). While it runs,
every rok command on the same home goes through its API. Port 0 picks a free port.

With a registry (--registry URL, or the one 'rok login' saved in the home) the node
registers its peer ID and addresses, pins the registry's key in the home, records every
published version there (queued and retried while the registry is down; 'rok status'
shows the queue), subscribes without --peer, and serves buckets to peers holding a valid
registry grant as well as to those on its allow lists. --no-registry ignores saved
credentials.

Example:
  rok node start --listen /ip4/0.0.0.0/tcp/4001 --api 127.0.0.1:7500`,
  options: {
    listen: { type: 'string', multiple: true },
    api: { type: 'string' },
    bootstrap: { type: 'string', multiple: true },
    'max-download-rate': { type: 'string' },
    'max-upload-rate': { type: 'string' },
    'data-channel': { type: 'string' },
    'data-port': { type: 'string' },
    'poll-interval': { type: 'string' },
    registry: { type: 'string' },
    'no-registry': { type: 'boolean' },
    'registry-retry-max': { type: 'string' }
  },
  optionHelp: {
    listen: 'libp2p listen address (default /ip4/127.0.0.1/tcp/0; repeatable)',
    api: 'local API address (default 127.0.0.1:0)',
    bootstrap: 'peer to dial at start (repeatable)',
    'max-download-rate': 'cap on what syncs receive, e.g. 50MB (per second; default unlimited)',
    'max-upload-rate': "cap on what the node serves to all peers together, e.g. 50MB/s, at least 256KiB/s (default unlimited; 'rok status' shows it)",
    'data-channel': "on (default): move blocks over a direct TLS socket negotiated over libp2p, falling back to libp2p streams; off: libp2p streams only",
    'data-port': 'TCP port of the data channel (default: any free port; fix it to open it in a firewall)',
    'poll-interval': 'seconds between head checks of subscriptions when no announcement came (default 30)',
    registry: "registry URL (default: the one 'rok login' saved in the home)",
    'no-registry': 'run without a registry even when logged in',
    'registry-retry-max': 'longest wait in seconds between retries when the registry is down (default 30)'
  },
  positionals: 0,
  async run (ctx) {
    if (await connectToNode(ctx.home) !== undefined) {
      throw new RokError('ERR_NODE_RUNNING', `a node is already running for ${ctx.home}; 'rok id' shows it`)
    }
    // Loaded only here: the libp2p stack is heavy and no other verb needs it in-process.
    const { startNode } = await import('../../../node/daemon.ts')
    const registry = ctx.options['no-registry'] === true ? undefined : await registryFor(ctx.home, ctx.options.registry as string | undefined)
    const node = await startNode({
      home: ctx.home,
      listen: ctx.options.listen as string[] | undefined,
      api: ctx.options.api as string | undefined,
      bootstrap: ctx.options.bootstrap as string[] | undefined,
      maxDownloadRate: ctx.options['max-download-rate'] === undefined ? undefined : parseRate(ctx.options['max-download-rate'] as string),
      maxUploadRate: ctx.options['max-upload-rate'] === undefined ? undefined : parseUploadRate(ctx.options['max-upload-rate'] as string),
      dataChannel: parseDataChannel(ctx.options['data-channel'] as string | undefined, ctx.options['data-port'] as string | undefined),
      pollInterval: ctx.options['poll-interval'] === undefined ? undefined : parseSeconds(ctx.options['poll-interval'] as string) * 1000,
      logger: { level: ctx.out.verbose ? 'info' : 'warn' },
      registry: registry === undefined
        ? undefined
        : { ...registry, retryMaxMs: ctx.options['registry-retry-max'] === undefined ? undefined : parseSeconds(ctx.options['registry-retry-max'] as string) * 1000 }
    })
    ctx.out.result({ peerId: node.peerId, addrs: node.addrs(), api: node.apiUrl, registry: node.registry?.url ?? null }, r => {
      ctx.out.line(`node ${r.peerId} running`)
      for (const a of r.addrs) ctx.out.line(`  listening on ${a}`)
      ctx.out.line(`  API ${r.api}`)
      if (r.registry !== null) ctx.out.line(`  registry ${r.registry} (registering in the background; 'rok status' shows it)`)
    })
    await new Promise<void>(resolve => {
      if (ctx.signal.aborted) resolve()
      ctx.signal.addEventListener('abort', () => resolve(), { once: true })
    })
    await node.close()
    ctx.out.note('node stopped')
  }
}

/** The registry URL and token for the daemon: --registry, else what `rok login` saved. */
async function registryFor (home: string, url: string | undefined): Promise<{ url: string, token: string } | undefined> {
  const creds = await loadCredentials(home)
  if (url === undefined) return creds === null ? undefined : { url: creds.url, token: creds.token }
  const same = creds !== null && creds.url.replace(/\/$/, '') === url.replace(/\/$/, '')
  if (!same) throw new RokError(NOT_LOGGED_IN, `no saved token for ${url}: run 'rok login ${url} --token T --home ${home}' first`)
  return { url: creds.url, token: creds.token }
}

const UNITS: Record<string, number> = { '': 1, B: 1, KB: 1e3, MB: 1e6, GB: 1e9, KIB: 1024, MIB: 1024 ** 2, GIB: 1024 ** 3 }

/** `50MB`, `8MiB`, `1000000` (per second; `/s` allowed) → bytes per second. */
export function parseRate (text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)(?:\/s)?$/.exec(text.trim())
  const unit = m === null ? undefined : UNITS[m[2].toUpperCase()]
  if (m === null || unit === undefined || Number(m[1]) <= 0) throw new UsageError(`'${text}' is not a rate: use e.g. 50MB, 8MiB or 1000000 (bytes per second)`)
  return Number(m[1]) * unit
}

/** A rate as parseRate reads it, and no lower than the exchange can serve a 4 MiB block at. */
function parseUploadRate (text: string): number {
  const rate = parseRate(text)
  if (rate < MIN_UPLOAD_RATE) throw new UsageError(`--max-upload-rate ${text} is below 256KiB/s: a peer waiting that long for a 4 MiB block gives up (30 s)`)
  return rate
}

/** `--data-channel on|off` and `--data-port N` → the node's data channel setting. */
function parseDataChannel (mode: string | undefined, port: string | undefined): false | { port?: number } {
  if (mode !== undefined && mode !== 'on' && mode !== 'off') throw new UsageError(`--data-channel takes 'on' or 'off', not '${mode}'`)
  const n = port === undefined ? undefined : Number(port)
  if (n !== undefined && (!Number.isInteger(n) || n < 0 || n > 65535)) throw new UsageError(`--data-port ${port} is not a TCP port (0..65535)`)
  if (mode === 'off') {
    if (n !== undefined) throw new UsageError('--data-port has no effect with --data-channel off: give one or the other')
    return false
  }
  return { port: n }
}

function parseSeconds (text: string): number {
  const n = Number(text)
  if (!Number.isFinite(n) || n < 0.1 || n > 86_400) throw new UsageError(`'${text}' is not a number of seconds between 0.1 and 86400`)
  return n
}

export const node: Command = {
  name: 'node',
  summary: 'run this home as a long-lived node (libp2p host and local API)',
  usage: 'node start [options]',
  subcommands: [start]
}

export const id: Command = {
  name: 'id',
  summary: "print the node's peer ID and the multiaddrs it listens on",
  usage: 'id',
  positionals: 0,
  async run (ctx) {
    const client = await connectToNode(ctx.home)
    if (client !== undefined) {
      const info = await client.id()
      ctx.out.result({ ...info, running: true }, r => {
        ctx.out.line(r.peerId)
        for (const a of r.addrs) ctx.out.line(a)
      })
      return
    }
    const peerId = await withNode(ctx, async n => await n.peerId())
    ctx.out.result({ peerId, addrs: [], api: null, running: false }, r => {
      ctx.out.line(r.peerId)
      ctx.out.note("(node not running: 'rok node start' to listen)")
    })
  }
}
