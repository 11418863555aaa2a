import { resolve } from 'node:path'
import type { Command, CommandContext } from '../../cli/command.ts'
import { UsageError } from '../../cli/run.ts'
import { isRokError } from '../../../protocol/errors.ts'
import type { PolicyBody, PolicyInfo, RetentionRules } from '../../../protocol/policy-api.ts'
import { formatDuration, parseDuration } from '../../../node/policy/duration.ts'
import { PolicyErrorCode } from '../../../node/policy/errors.ts'
import { withNode } from './engine.ts'

/** The --keep-* flags of `rok policy set` and `rok forget`. */
export const RETENTION_OPTIONS = {
  'keep-last': { type: 'string' },
  'keep-hourly': { type: 'string' },
  'keep-daily': { type: 'string' },
  'keep-weekly': { type: 'string' },
  'keep-monthly': { type: 'string' },
  'keep-yearly': { type: 'string' },
  'keep-within': { type: 'string' }
} as const

export const RETENTION_HELP: Record<string, string> = {
  'keep-last': 'keep the N newest versions (-1: all)',
  'keep-hourly': 'keep the newest version of each of the last N hours that have one (UTC)',
  'keep-daily': 'keep the newest version of each of the last N days that have one',
  'keep-weekly': 'keep the newest version of each of the last N ISO weeks that have one',
  'keep-monthly': 'keep the newest version of each of the last N months that have one',
  'keep-yearly': 'keep the newest version of each of the last N years that have one',
  'keep-within': 'keep every version younger than DURATION, e.g. 36h, 14d, 6mo, 1y'
}

const RULES: Array<[string, keyof RetentionRules]> = [
  ['keep-last', 'keepLast'], ['keep-hourly', 'keepHourly'], ['keep-daily', 'keepDaily'], ['keep-weekly', 'keepWeekly'], ['keep-monthly', 'keepMonthly'], ['keep-yearly', 'keepYearly']
]

/** The retention rules given as flags, or undefined when none is. */
export function retentionFromFlags (ctx: CommandContext): RetentionRules | undefined {
  const rules: RetentionRules = {}
  for (const [flag, key] of RULES) {
    const v = ctx.options[flag]
    if (typeof v !== 'string') continue
    if (!/^-?\d+$/.test(v) || Number(v) < -1) throw new UsageError(`--${flag} takes a whole number of versions (or -1 for all), not '${v}'`)
    rules[key] = Number(v)
  }
  const within = ctx.options['keep-within']
  if (typeof within === 'string') rules.keepWithinMs = usageDuration(within, '--keep-within')
  return Object.keys(rules).length === 0 ? undefined : rules
}

export function usageDuration (text: string, flag: string): number {
  try {
    return parseDuration(text, flag)
  } catch (err) {
    if (isRokError(err)) throw new UsageError(err.message)
    throw err
  }
}

export function describeRetention (r: RetentionRules | undefined): string {
  if (r === undefined) return 'none'
  const parts = RULES.filter(([, k]) => r[k] !== undefined).map(([flag, k]) => `${flag} ${String(r[k])}`)
  if (r.keepWithinMs !== undefined) parts.push(`keep-within ${formatDuration(r.keepWithinMs)}`)
  return parts.length === 0 ? 'none' : parts.join(', ')
}

function printPolicy (ctx: CommandContext, p: PolicyInfo): void {
  ctx.out.line(`${p.bucket}`)
  ctx.out.line(`  schedule   ${p.schedule !== undefined ? `${p.schedule} (UTC)` : 'none'}${p.nextRun !== undefined ? `, next ${p.nextRun}` : ''}${p.lastRun !== undefined ? `, last ${p.lastRun}` : ''}`)
  if (p.path !== undefined) ctx.out.line(`  path       ${p.path}`)
  if ((p.include ?? []).length > 0) ctx.out.line(`  include    ${p.include!.join(' ')}`)
  if ((p.exclude ?? []).length > 0) ctx.out.line(`  exclude    ${p.exclude!.join(' ')}`)
  ctx.out.line(`  versions   ${p.publish === true ? 'published' : 'kept local'}${(p.shareWith ?? []).length > 0 ? `, shared with ${p.shareWith!.join(', ')}` : ''}`)
  ctx.out.line(`  retention  ${describeRetention(p.retention)}`)
  if (p.pinned.length > 0) ctx.out.line(`  pinned     ${p.pinned.map(s => `@${s}`).join(' ')}`)
}

const set: Command = {
  name: 'set',
  summary: "set a bucket's schedule, path, globs, publishing, sharing and retention",
  usage: 'set G/N [--schedule CRON --path PATH] [--include GLOB]... [--exclude GLOB]... [--publish|--local] [--share-with GROUP]... [--keep-...] [--replace]',
  description: [
    'Changes only what is given; the rest of the policy stays (--replace starts from an empty one).',
    'The schedule is a 5-field cron expression in UTC: minute hour day-of-month month day-of-week,',
    "e.g. '0 3 * * *' (03:00 every day), '*/15 * * * *', '0 0 * * sun', or @hourly/@daily/@weekly.",
    "The running node daemon ('rok node start') takes the snapshots; a firing missed while it was down",
    'is taken once when it starts. Globs apply to every snapshot of the bucket: * within a name,',
    '** across folders; a glob without / matches names at any depth. After each scheduled snapshot',
    "the retention rules are applied as by 'rok forget'; 'rok gc' then reclaims the space.",
    '',
    'Example:',
    "  rok policy set acme/ckpt --schedule '0 * * * *' --path /data/ckpt --exclude '*.tmp' --keep-hourly 24 --keep-daily 7"
  ].join('\n'),
  positionals: 1,
  options: {
    schedule: { type: 'string' },
    unschedule: { type: 'boolean' },
    path: { type: 'string' },
    include: { type: 'string', multiple: true },
    exclude: { type: 'string', multiple: true },
    publish: { type: 'boolean' },
    local: { type: 'boolean' },
    'share-with': { type: 'string', multiple: true },
    replace: { type: 'boolean' },
    'no-retention': { type: 'boolean' },
    ...RETENTION_OPTIONS
  },
  optionHelp: {
    schedule: "cron expression (UTC), e.g. '0 3 * * *'",
    unschedule: 'drop the schedule (keep the rest)',
    path: 'folder or image on the node to snapshot',
    include: 'take only files matching (repeatable)',
    exclude: 'skip paths matching (repeatable)',
    publish: 'publish each scheduled version (announce to subscribers and the registry)',
    local: 'keep scheduled versions local (default)',
    'share-with': 'registry group the bucket is shared with by default when published (repeatable, or comma-separated)',
    replace: 'replace the whole policy instead of changing the given parts',
    'no-retention': 'drop the retention rules',
    ...RETENTION_HELP
  },
  async run (ctx) {
    const bucket = ctx.args[0]
    const o = ctx.options
    if (o.publish === true && o.local === true) throw new UsageError('give --publish or --local, not both')
    if (o.schedule !== undefined && o.unschedule === true) throw new UsageError('give --schedule or --unschedule, not both')
    const retention = retentionFromFlags(ctx)
    const info = await withNode(ctx, async node => {
      let base: Omit<PolicyBody, 'bucket'> = {}
      if (o.replace !== true) {
        try {
          const { bucket: _b, updatedAt: _u, lastRun: _l, nextRun: _n, pinned: _p, ...current } = await node.policy(bucket)
          base = current
        } catch (err) {
          if (!isRokError(err, PolicyErrorCode.NO_POLICY)) throw err
        }
      }
      const body: PolicyBody = { ...base, bucket }
      if (typeof o.schedule === 'string') body.schedule = o.schedule
      if (o.unschedule === true) delete body.schedule
      if (typeof o.path === 'string') body.path = resolve(o.path)
      if (Array.isArray(o.include)) body.include = o.include
      if (Array.isArray(o.exclude)) body.exclude = o.exclude
      if (o.publish === true) body.publish = true
      if (o.local === true) body.publish = false
      if (Array.isArray(o['share-with'])) body.shareWith = o['share-with'].flatMap(g => g.split(',')).map(g => g.trim()).filter(g => g !== '')
      if (o['no-retention'] === true) delete body.retention
      if (retention !== undefined) body.retention = { ...(o.replace === true ? {} : body.retention), ...retention }
      return await node.setPolicy(body)
    })
    ctx.out.result(info, (p: PolicyInfo) => printPolicy(ctx, p))
  }
}

const show: Command = {
  name: 'show',
  summary: 'show the policy of a bucket, or of every bucket',
  usage: 'show [G/N]',
  positionals: [0, 1],
  async run (ctx) {
    if (ctx.args.length === 1) {
      const p = await withNode(ctx, async node => await node.policy(ctx.args[0]))
      ctx.out.result(p, (x: PolicyInfo) => printPolicy(ctx, x))
      return
    }
    const all = await withNode(ctx, async node => await node.policies())
    ctx.out.result(all, (list: PolicyInfo[]) => {
      if (list.length === 0) ctx.out.line("no policies; 'rok policy set G/N ...' makes one")
      for (const p of list) printPolicy(ctx, p)
    })
  }
}

const remove: Command = {
  name: 'remove',
  summary: "remove a bucket's policy (its versions and pins stay)",
  usage: 'remove G/N',
  positionals: 1,
  async run (ctx) {
    const r = await withNode(ctx, async node => await node.removePolicy(ctx.args[0]))
    ctx.out.result(r, (x: { bucket: string, removed: boolean }) => ctx.out.line(x.removed ? `removed the policy of ${x.bucket}` : `${x.bucket} had no policy`))
  }
}

export const policy: Command = {
  name: 'policy',
  summary: 'snapshot schedules, include/exclude globs, publishing, sharing and retention per bucket',
  usage: 'policy set|show|remove ...',
  subcommands: [set, show, remove]
}
