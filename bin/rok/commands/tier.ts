/**
 * `rok tier set|status|push|pull|list`: the node's object-storage tier. `set` checks and
 * saves the settings; the other verbs go through the daemon that owns the home when one
 * runs (it also pushes by itself after each new version), else open the home in-process.
 */
import type { Command, CommandContext } from '../../cli/command.ts'
import { formatBytes } from '../../cli/output.ts'
import { UsageError } from '../../cli/run.ts'
import { parseBucketName, parseVersionRef } from '../../../protocol/bucket-name.ts'
import { ensureHome } from '../../../node/home.ts'
import { connectToNode } from '../../../node/api/client.ts'
import { configureTier, describeTier } from '../../../node/tier/index.ts'
import { withNode } from './engine.ts'

function str (v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined
}

function int (v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isInteger(n)) throw new UsageError(`--${name} must be a whole number, got '${String(v)}'`)
  return n
}

const set: Command = {
  name: 'set',
  summary: 'configure the object store this node keeps its versions in (checked now)',
  usage: 'set --endpoint URL --bucket NAME [--prefix P] [--region R] [--path-style]\n  tier set --dir /mnt/objects',
  description: `Checks that the bucket exists and the credentials work, writes a format marker at the
prefix, then saves the settings in the node home. Credentials come from the standard AWS
chain: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or AWS_PROFILE and ~/.aws files).
Most S3-compatible servers (MinIO, Ceph, s3rver) need --path-style.

Example:
  rok tier set --endpoint http://minio.local:9000 --bucket rok --prefix cluster-a --path-style`,
  options: {
    endpoint: { type: 'string' }, bucket: { type: 'string' }, prefix: { type: 'string' }, region: { type: 'string' },
    'path-style': { type: 'boolean' }, dir: { type: 'string' }, attempts: { type: 'string' }, 'retry-delay': { type: 'string' }, 'pack-size': { type: 'string' }
  },
  optionHelp: {
    endpoint: 'URL of an S3-compatible service (omit for AWS S3)',
    bucket: 'object-store bucket (must exist)',
    prefix: 'key prefix inside the bucket, e.g. cluster-a',
    region: 'signing region (default us-east-1)',
    'path-style': 'address the bucket in the path (http://host/bucket/key)',
    dir: 'keep the tier in a local or mounted folder instead of S3',
    attempts: 'tries per request on transient failures (default 5)',
    'retry-delay': 'first retry delay in ms, doubled each retry (default 250)',
    'pack-size': 'bytes per pack object (default 64 MiB; smaller means more requests)'
  },
  positionals: 0,
  async run (ctx) {
    await ensureHome(ctx.home, false)
    const config = await configureTier(ctx.home, {
      endpoint: str(ctx.options.endpoint),
      bucket: str(ctx.options.bucket),
      prefix: str(ctx.options.prefix),
      region: str(ctx.options.region),
      pathStyle: ctx.options['path-style'] === true,
      dir: str(ctx.options.dir),
      attempts: int(ctx.options.attempts, 'attempts'),
      retryBaseMs: int(ctx.options['retry-delay'], 'retry-delay'),
      packSize: int(ctx.options['pack-size'], 'pack-size')
    }, { signal: ctx.signal })
    const daemon = await connectToNode(ctx.home)
    ctx.out.result(config, () => {
      ctx.out.line(`tier: ${describeTier(config)} (checked: bucket reachable, credentials accepted)`)
      if (daemon !== undefined) ctx.out.line("the running node daemon uses it after a restart (stop it with Ctrl-C or SIGTERM, then 'rok node start' again)")
    })
  }
}

const status: Command = {
  name: 'status',
  summary: 'what the tier holds and which versions are not pushed yet',
  usage: 'status',
  positionals: 0,
  async run (ctx) {
    const s = await withNode(ctx, async node => await node.tierStatus())
    ctx.out.result(s, () => {
      ctx.out.line(`tier: ${s.tier}`)
      ctx.out.line(`${s.pushedVersions} versions pushed; ${s.packs} packs (${formatBytes(s.packBytes)}), ${s.blocks} blocks`)
      if (s.unpushedVersions.length > 0) ctx.out.line(`not pushed yet: ${s.unpushedVersions.join(', ')}`)
      if (s.interruptedUploads > 0) ctx.out.line(`${s.interruptedUploads} interrupted uploads: the next push resumes them`)
      if (s.candidates > 0) ctx.out.line(`${s.candidates} packs marked for deletion by gc`)
    })
  }
}

const push: Command = {
  name: 'push',
  summary: 'upload every local version the tier does not hold yet',
  usage: 'push [--bucket GROUP/NAME]',
  description: 'Uploads new blocks in packs, then each version\'s signed record. Blocks the tier already holds are never sent again. Safe to interrupt: the next push resumes.',
  options: { bucket: { type: 'string' } },
  optionHelp: { bucket: 'only this bucket\'s versions' },
  positionals: 0,
  async run (ctx) {
    const bucket = str(ctx.options.bucket)
    if (bucket !== undefined) parseBucketName(bucket)
    const bar = ctx.out.progress('push')
    const report = await withNode(ctx, async node => await node.tierPush({ bucket }, { signal: ctx.signal, onProgress: p => bar.update(p.bytes) }))
    bar.done()
    ctx.out.result(report, () => {
      if (report.versions.length === 0) { ctx.out.line(`nothing to push: the tier holds all ${report.alreadyPushed} versions`); return }
      ctx.out.line(`pushed ${report.versions.join(', ')}: ${report.blocks} new blocks (${formatBytes(report.blockBytes)}) in ${report.packs} packs, ${formatBytes(report.uploadedBytes)} uploaded`)
      if (report.resumedPacks > 0) ctx.out.line(`resumed ${report.resumedPacks} packs an interrupted push had uploaded`)
    })
  }
}

const pull: Command = {
  name: 'pull',
  summary: 'bring a version from the tier into this home (records, manifest; chunks with --data)',
  usage: 'pull GROUP/NAME[@SEQ] [--data]',
  description: `Works on a brand-new home given only the object store ('rok init', 'rok tier set', then this).
Without --data the chunks stay in the tier and 'rok restore' fetches them as it needs them.

Example:
  rok tier pull acme/imagenet-small@3 --data && rok restore acme/imagenet-small@3 ./restored`,
  options: { data: { type: 'boolean' } },
  optionHelp: { data: 'also copy every chunk of the version into the local store' },
  positionals: 1,
  async run (ctx) {
    parseVersionRef(ctx.args[0])
    const bar = ctx.out.progress('pull')
    const report = await withNode(ctx, async node => await node.tierPull({ version: ctx.args[0], data: ctx.options.data === true }, { signal: ctx.signal, onProgress: p => bar.update(p.bytes) }))
    bar.done()
    ctx.out.result(report, () => {
      ctx.out.line(`${report.alreadyLocal ? 'already here' : 'pulled'}: ${report.bucket}@${report.seq} (${report.blocks} blocks, ${formatBytes(report.bytes)} of chunks)${report.data ? '' : '; chunks are fetched from the tier on restore'}`)
    })
  }
}

const list: Command = {
  name: 'list',
  summary: 'buckets and versions in the object store',
  usage: 'list [GROUP/NAME]',
  positionals: [0, 1],
  async run (ctx) {
    const bucket = ctx.args[0]
    if (bucket !== undefined) parseBucketName(bucket)
    const versions = await withNode(ctx, async node => await node.tierList(bucket, { signal: ctx.signal }))
    ctx.out.result(versions, () => {
      if (versions.length === 0) { ctx.out.line('the tier holds no versions'); return }
      for (const v of versions) ctx.out.line(`${v.bucket}@${v.seq}  ${v.modified}`)
    })
  }
}

export const tier: Command = {
  name: 'tier',
  summary: 'keep versions in an S3-compatible object store: set, status, push, pull, list',
  usage: 'tier set|status|push|pull|list',
  subcommands: [set, status, push, pull, list]
}
