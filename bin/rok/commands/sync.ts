/**
 * The peer-to-peer verbs: publish, subscribe, unsubscribe, sync, allow, deny, status.
 * They need the node daemon (it owns the libp2p host), except allow/deny, which edit the
 * home's allow list directly when no daemon runs.
 */
import { resolve } from 'node:path'
import type { Command, CommandContext } from '../../cli/command.ts'
import { formatBytes } from '../../cli/output.ts'
import { UsageError } from '../../cli/run.ts'
import { NodeApiClient } from '../../../node/api/client.ts'
import { readApiToken, readDaemonInfo } from '../../../node/daemon-file.ts'
import { SyncErrorCode } from '../../../node/sync/errors.ts'
import { RokError } from '../../../protocol/errors.ts'
import { parseBucketName } from '../../../protocol/bucket-name.ts'
import type { AllowOutcome, RegistryLinkStatus, SubscriptionStatus, SyncReport } from '../../../protocol/node-api.ts'
import { connectToNode } from '../../../node/api/client.ts'
import { nodeOrEngine } from './engine.ts'
import { dedupPercent } from './snapshot.ts'

/** Longest wait for a busy daemon's health answer once its process is known to be alive. */
const BUSY_DAEMON_TIMEOUT_MS = 15_000

async function requireDaemon (ctx: CommandContext, verb: string): Promise<NodeApiClient> {
  let client = await connectToNode(ctx.home)
  if (client === undefined) client = await busyDaemon(ctx.home, ctx.signal)
  if (client === undefined) {
    throw new RokError(SyncErrorCode.NODE_NOT_RUNNING, `'rok ${verb}' needs the node running: start it with 'rok node start --home ${ctx.home}' (in another terminal or as a service)`)
  }
  return client
}

/**
 * connectToNode gives up after a short health check; a daemon whose process is alive may
 * just be busy (a loaded machine): wait longer for it before calling it not running.
 */
async function busyDaemon (home: string, signal: AbortSignal): Promise<NodeApiClient | undefined> {
  const info = await readDaemonInfo(home)
  const token = await readApiToken(home)
  if (info === undefined || token === undefined) return undefined
  try {
    process.kill(info.pid, 0)
  } catch {
    return undefined
  }
  const client = new NodeApiClient({ url: info.api, token })
  return await client.health(AbortSignal.any([signal, AbortSignal.timeout(BUSY_DAEMON_TIMEOUT_MS)])) ? client : undefined
}

function bucketArg (ctx: CommandContext): string {
  const bucket = ctx.args[0]
  parseBucketName(bucket)
  return bucket
}

export const publish: Command = {
  name: 'publish',
  summary: 'snapshot a folder as the next version of a bucket and announce it to subscribers',
  usage: 'publish PATH --bucket GROUP/NAME [-m MESSAGE]',
  description: `Snapshots PATH like 'rok snapshot', then pushes the signed version to the peers allowed or
granted the bucket (online subscribers start syncing within seconds) and provides it in the DHT. Only
peers allowed with 'rok allow' can fetch it. Needs the node running ('rok node start').

Example:
  rok publish ./dataset --bucket acme/imagenet-small -m "v2: relabelled"`,
  options: { bucket: { type: 'string', short: 'b' }, message: { type: 'string', short: 'm' } },
  optionHelp: { bucket: 'bucket to publish (group/name)', message: 'version message' },
  positionals: 1,
  async run (ctx) {
    const bucket = ctx.options.bucket
    if (typeof bucket !== 'string') throw new UsageError('--bucket GROUP/NAME is required')
    const client = await requireDaemon(ctx, 'publish')
    const bar = ctx.out.progress('publish')
    const r = await client.publish({ path: resolve(ctx.args[0]), bucket, message: ctx.options.message as string | undefined }, { signal: ctx.signal, onProgress: p => bar.update(p.bytes, p.total) })
    bar.done()
    ctx.out.result(r, r => {
      ctx.out.line(`${r.bucket}@${r.seq}  ${r.cid}`)
      ctx.out.line(`  ${formatBytes(r.size)} in ${r.chunks} chunks; new: ${r.newChunks} chunks, ${formatBytes(r.newBytes)} (${dedupPercent(r.size, r.newBytes)} deduplicated)`)
      ctx.out.line(`  announced to ${r.announcedTo.length} peer${r.announcedTo.length === 1 ? '' : 's'}; ${r.provided ? 'provided in the DHT' : 'not provided in the DHT (no DHT peers yet)'}`)
      if (r.registry?.state === 'recorded') ctx.out.line('  recorded in the registry')
      if (r.registry?.state === 'queued') {
        ctx.out.line(`  queued for the registry (${r.registry.pending} waiting${r.registry.error !== undefined ? `: ${r.registry.error.message}` : ''}); delivered when it answers ('rok status')`)
      }
      if (r.allowed.length === 0 && r.registry === undefined) ctx.out.note(`nobody may fetch ${r.bucket} yet: 'rok allow ${r.bucket} PEER_ID'`)
    })
  }
}

export const subscribe: Command = {
  name: 'subscribe',
  summary: 'follow a bucket published by another node; new versions sync automatically',
  usage: 'subscribe GROUP/NAME [--peer MULTIADDR]',
  description: `Follows GROUP/NAME as published by the node at MULTIADDR (its full address, ending in
/p2p/<peer id>; 'rok id' on that node prints it). Only versions signed by that node are
accepted. The node catches up in the background; 'rok status' shows progress and
'rok sync' waits for it. The publisher must allow this node first ('rok allow').

Without --peer, a node started with a registry asks it for a grant (the registry checks
the bucket's ACL), the publisher and the nodes holding the bucket, then syncs peer to
peer, presenting the grant to the peers it fetches from and renewing it before it
expires. While the registry is down, new subscriptions wait; existing ones keep syncing.

Example:
  rok subscribe acme/imagenet-small --peer /ip4/10.0.0.5/tcp/4001/p2p/12D3KooW...`,
  options: { peer: { type: 'string' } },
  optionHelp: { peer: "the publisher's multiaddr, ending in /p2p/<peer id> (default: ask the registry)" },
  positionals: 1,
  async run (ctx) {
    const bucket = bucketArg(ctx)
    const peer = ctx.options.peer as string | undefined
    const client = await requireDaemon(ctx, 'subscribe')
    const r = await client.subscribe(peer === undefined ? { bucket } : { bucket, peer })
    ctx.out.result(r, r => {
      ctx.out.line(`following ${r.bucket} from ${r.publisher}`)
      ctx.out.line(`  local head: ${r.localHead === 0 ? 'none' : `@${r.localHead}`}; syncing in the background ('rok status', 'rok sync ${r.bucket}')`)
    })
  }
}

export const unsubscribe: Command = {
  name: 'unsubscribe',
  summary: 'stop following a bucket (its synced versions stay)',
  usage: 'unsubscribe GROUP/NAME',
  positionals: 1,
  async run (ctx) {
    const bucket = bucketArg(ctx)
    const client = await requireDaemon(ctx, 'unsubscribe')
    const r = await client.unsubscribe(bucket)
    ctx.out.result(r, r => { ctx.out.line(r.removed ? `no longer following ${r.bucket}` : `${r.bucket} was not followed`) })
  }
}

export const sync: Command = {
  name: 'sync',
  summary: 'sync a subscribed bucket now, waiting until it is up to date',
  usage: 'sync GROUP/NAME',
  description: `Asks the publisher and fellow subscribers for the newest version and fetches only the
blocks this node lacks, from all of them in parallel. Prints who served how much.`,
  positionals: 1,
  async run (ctx) {
    const bucket = bucketArg(ctx)
    const client = await requireDaemon(ctx, 'sync')
    const bar = ctx.out.progress('sync')
    const r = await client.sync({ bucket }, { signal: ctx.signal, onProgress: p => bar.update(p.bytes, p.total) })
    bar.done()
    ctx.out.result(r, r => { printReport(ctx, r) })
  }
}

function printReport (ctx: CommandContext, r: SyncReport): void {
  const healed = (r.healed ?? 0) > 0 ? `; healed ${r.healed} damaged version${r.healed === 1 ? '' : 's'}` : ''
  const unhealed = (r.unhealed ?? 0) > 0 ? `; ${r.unhealed} damaged version${r.unhealed === 1 ? '' : 's'} no peer could complete (the daemon log names them)` : ''
  if (r.versions === 0 && healed === '') {
    ctx.out.line(`${r.bucket} is up to date at @${r.toSeq}${unhealed}`)
    return
  }
  ctx.out.line(`${r.bucket}: @${r.fromSeq === 0 ? '-' : r.fromSeq} → @${r.toSeq} (${r.versions} version${r.versions === 1 ? '' : 's'}${healed}${unhealed}) in ${r.seconds.toFixed(2)} s`)
  ctx.out.line(`  received ${formatBytes(r.bytes)}: ${r.chunks} chunks ${formatBytes(r.chunkBytes)}, manifest ${formatBytes(r.nodeBytes)}, records ${formatBytes(r.recordBytes)}`)
  for (const p of r.peers) {
    ctx.out.line(`  ${p.peer}  ${formatBytes(p.bytes)} in ${p.blocks} blocks  (${p.why})${p.dropped !== undefined ? `  dropped: ${p.dropped.message}` : ''}`)
  }
}

function allowVerb (name: 'allow' | 'deny'): Command {
  return {
    name,
    summary: name === 'allow' ? 'let a peer fetch a bucket from this node' : 'stop serving a bucket to a peer',
    usage: `${name} GROUP/NAME PEER_ID`,
    description: name === 'allow'
      ? `Buckets are closed by default: a node serves a bucket's head, records, manifests and chunks
only to the peers on its allow list. A subscriber that should also serve fellow
subscribers allows them too.

Example:
  rok allow acme/imagenet-small 12D3KooW...`
      : undefined,
    positionals: 2,
    async run (ctx) {
      const bucket = bucketArg(ctx)
      const peer = ctx.args[1]
      const node = await nodeOrEngine(ctx.home)
      let r: AllowOutcome
      if ('client' in node) {
        r = await node.client[name]({ bucket, peer })
      } else {
        try {
          r = { bucket, peers: await node.engine.sync.allow[name](bucket, peer) }
        } finally {
          await node.engine.close()
        }
      }
      ctx.out.result(r, r => {
        ctx.out.line(`${r.bucket}: ${r.peers.length === 0 ? 'nobody allowed' : `allowed ${r.peers.join(', ')}`}`)
      })
    }
  }
}

export const allow = allowVerb('allow')
export const deny = allowVerb('deny')

export const status: Command = {
  name: 'status',
  summary: 'subscriptions (lag, progress, who served what), published buckets, bytes served',
  usage: 'status',
  positionals: 0,
  async run (ctx) {
    const client = await requireDaemon(ctx, 'status')
    const r = await client.syncStatus()
    ctx.out.result(r, r => {
      const cap = r.served.maxUploadRate === undefined ? 'uploads uncapped' : `uploads capped at ${formatBytes(r.served.maxUploadRate)}/s`
      ctx.out.line(`node ${r.peerId}; served ${formatBytes(r.served.bytes)} in ${r.served.blocks} blocks, refused ${r.served.refused}; ${cap}`)
      if (r.registry !== undefined) printRegistry(ctx, r.registry)
      const granted = r.registry !== undefined ? ' (and peers presenting a registry grant)' : ''
      for (const p of r.published) ctx.out.line(`publishing ${p.bucket} @${p.head}; allowed: ${p.allowed.length === 0 ? 'nobody' : p.allowed.join(', ')}${granted}`)
      for (const s of r.subscriptions) printSubscription(ctx, s)
      if (r.published.length === 0 && r.subscriptions.length === 0) ctx.out.line('no published or subscribed buckets')
    })
  }
}

function printRegistry (ctx: CommandContext, g: RegistryLinkStatus): void {
  ctx.out.line(`registry ${g.url}: ${g.registered ? 'registered' : 'not registered yet'}, key ${g.keyPinned ? 'pinned' : 'not pinned yet'}${g.error !== undefined ? ` (last attempt: ${g.error.message})` : ''}`)
  const o = g.outbox
  if (o.pending > 0) {
    ctx.out.line(`  ${o.pending} version reference${o.pending === 1 ? '' : 's'} queued for the registry, oldest ${o.oldest?.bucket ?? ''}@${o.oldest?.seq ?? ''}${o.lastError !== undefined ? `; last error ${o.lastError.code}: ${o.lastError.message}` : ''}${o.nextAttemptAt !== undefined ? `; next attempt ${o.nextAttemptAt}` : ''}`)
  }
  for (const grant of g.grants) ctx.out.line(`  grant ${grant.bucket} (${grant.rights.join(', ')}) until ${grant.expires}${grant.error !== undefined ? `; renewal failed: ${grant.error.message}` : ''}`)
}

function printSubscription (ctx: CommandContext, s: SubscriptionStatus): void {
  ctx.out.line(`following ${s.bucket} from ${s.publisher}: @${s.localHead} of @${s.remoteHead} (lag ${s.lag}), ${s.state}`)
  if (s.progress !== undefined) ctx.out.line(`  syncing @${s.progress.seq}: ${formatBytes(s.progress.walkedBytes)}/${formatBytes(s.progress.size)} checked, ${formatBytes(s.progress.bytes)} received`)
  if (s.error !== undefined) ctx.out.line(`  error ${s.error.code}: ${s.error.message}`)
  if (s.damaged !== undefined) ctx.out.line(`  damaged (rok verify --repair): ${s.damaged.map(seq => `@${seq}`).join(', ')}; the next sync fetches what they lack ('rok sync ${s.bucket}')`)
  if (s.last !== undefined) printReport(ctx, s.last)
}

export const syncVerbs: Command[] = [publish, subscribe, unsubscribe, sync, allow, deny, status]
