import type { Command } from '../../cli/command.ts'
import { UsageError } from '../../cli/run.ts'
import { parseVersionRef } from '../../../protocol/bucket-name.ts'
import type { ForgetOutcome } from '../../../protocol/policy-api.ts'
import { describeRetention, RETENTION_HELP, RETENTION_OPTIONS, retentionFromFlags } from './policy.ts'
import { withNode } from './engine.ts'

export const forget: Command = {
  name: 'forget',
  summary: 'apply retention rules to a bucket: keep some versions, forget the rest',
  usage: 'forget G/N [--dry-run] [--keep-last N] [--keep-hourly N] [--keep-daily N] [--keep-weekly N] [--keep-monthly N] [--keep-yearly N] [--keep-within DURATION]',
  description: [
    "The rules of restic's forget. Without --keep flags the bucket's policy retention applies",
    "('rok policy set G/N --keep-...'). Prints every version with why it is kept. Always kept: the",
    "newest version (the next snapshot's parent and what subscribers follow) and pinned ones ('rok pin').",
    "Forgetting removes version records only; 'rok gc' reclaims the data no kept version uses.",
    '',
    'Example:',
    '  rok forget acme/ckpt --keep-daily 7 --keep-weekly 4 --dry-run'
  ].join('\n'),
  positionals: 1,
  options: { 'dry-run': { type: 'boolean', short: 'n' }, ...RETENTION_OPTIONS },
  optionHelp: { 'dry-run': 'show what would be kept and forgotten, change nothing', ...RETENTION_HELP },
  async run (ctx) {
    const bucket = ctx.args[0]
    if (bucket.includes('@')) throw new UsageError(`forget takes a bucket (G/N), not a version; to keep ${bucket} use 'rok pin ${bucket}'`)
    const rules = retentionFromFlags(ctx)
    const out = await withNode(ctx, async node => await node.forget({ bucket, dryRun: ctx.options['dry-run'] === true, rules }, { signal: ctx.signal }))
    ctx.out.result(out, (r: ForgetOutcome) => {
      ctx.out.line(`${r.bucket}: rules from ${r.rulesFrom === 'policy' ? 'the policy' : 'flags'}: ${describeRetention(r.rules)}`)
      ctx.out.line('  seq  created                   action        reasons')
      for (const v of r.versions) {
        ctx.out.line(`  ${String(v.seq).padStart(3)}  ${v.createdAt.padEnd(24)}  ${(v.keep ? 'keep' : (r.dryRun ? 'would forget' : 'forget')).padEnd(12)}  ${v.reasons.join(', ')}`)
      }
      ctx.out.line(`${r.kept} kept, ${r.forgotten} ${r.dryRun ? 'would be forgotten' : 'forgotten'}${!r.dryRun && r.forgotten > 0 ? "; 'rok gc' reclaims their data" : ''}`)
    })
  }
}

function pinCommand (pinned: boolean): Command {
  const name = pinned ? 'pin' : 'unpin'
  return {
    name,
    summary: pinned ? 'keep a version forever, whatever the retention rules say' : 'let retention rules decide about a pinned version again',
    usage: `${name} G/N@SEQ`,
    positionals: 1,
    async run (ctx) {
      const ref = parseVersionRef(ctx.args[0])
      if (ref.seq === undefined) throw new UsageError(`${name} takes a version: ${ref.bucket}@N ('rok log ${ref.bucket}' lists them)`)
      const r = await withNode(ctx, async node => await node.pin({ bucket: ref.bucket, seq: ref.seq!, pinned }))
      ctx.out.result(r, () => ctx.out.line(`${ref.bucket}@${ref.seq} ${pinned ? 'pinned: kept by every retention rule' : 'unpinned'}`))
    }
  }
}

export const pin = pinCommand(true)
export const unpin = pinCommand(false)
