import type { Command } from '../../cli/command.ts'
import { formatBytes } from '../../cli/output.ts'
import { UsageError } from '../../cli/run.ts'
import { DEFAULT_GRACE_MS } from '../../../node/policy/gc.ts'
import { formatDuration, parseDuration } from '../../../node/policy/duration.ts'
import { isRokError } from '../../../protocol/errors.ts'
import { withNode } from './engine.ts'

export const gc: Command = {
  name: 'gc',
  summary: 'remove chunks no retained version references (two-phase, no lock) and compact packs',
  usage: 'gc [--dry-run] [--grace DURATION]',
  description: [
    'Garbage collection in two phases, while snapshots and syncs keep running. Each run marks the',
    'blocks no retained version references as candidates (kept in the home, so a crash loses nothing),',
    'then deletes the candidates marked more than the grace period ago that nothing has referenced or',
    'stored again since. Packs left mostly empty are rewritten. A candidate is never deleted while a',
    'snapshot or sync that started before it was marked is still running. With an object-storage tier',
    "('rok tier set'), the tier is swept against the same live set, with its own candidates and grace.",
    '',
    `The first run after a 'rok forget' only marks; a run after the grace period (default ${formatDuration(DEFAULT_GRACE_MS)})`,
    "deletes. On a home no daemon is using, '--grace 0' does both at once.",
    '',
    'Examples:',
    '  rok gc --dry-run            what is unreferenced, and what a gc now would delete',
    '  rok gc                      mark, and sweep what was marked over an hour ago',
    '  rok gc --grace 10min'
  ].join('\n'),
  options: { 'dry-run': { type: 'boolean', short: 'n' }, grace: { type: 'string' } },
  optionHelp: {
    'dry-run': 'report what would be marked and deleted, change nothing',
    grace: `how long a candidate must stay unreferenced before it is deleted, e.g. 0, 90s, 15min, 1h (default ${formatDuration(DEFAULT_GRACE_MS)})`
  },
  positionals: 0,
  async run (ctx) {
    let graceSeconds: number | undefined
    if (typeof ctx.options.grace === 'string') {
      try {
        graceSeconds = parseDuration(ctx.options.grace, '--grace') / 1000
      } catch (err) {
        if (isRokError(err)) throw new UsageError(err.message)
        throw err
      }
    }
    const bar = ctx.out.progress('gc')
    const report = await withNode(ctx, async node => await node.gc({ dryRun: ctx.options['dry-run'] === true, graceSeconds }, {
      signal: ctx.signal, onProgress: p => bar.update(p.bytes)
    }))
    bar.done()
    ctx.out.result(report, r => {
      const dry = r.dryRun
      ctx.out.line(`${r.liveBlocks} blocks referenced (${formatBytes(r.liveBytes)}); ${r.deadBlocks} unreferenced (${formatBytes(r.deadBytes)})`)
      ctx.out.line(`${dry ? 'would delete' : 'deleted'} ${r.sweptBlocks} blocks (${formatBytes(r.sweptBytes)}); ${dry ? 'would mark' : 'marked'} ${r.markedBlocks} new candidates; ` +
        `${r.waitingBlocks} candidates (${formatBytes(r.waitingBytes)}) wait out the ${formatDuration(r.graceSeconds * 1000)} grace period; ${r.rescuedBlocks} rescued`)
      ctx.out.line(`packs: ${r.packsRemoved} ${dry ? 'to delete' : 'deleted'}, ${r.packsRewritten} ${dry ? 'to rewrite' : 'rewritten'}; on disk ${formatBytes(r.packBytesBefore)} → ${formatBytes(r.packBytesAfter)}${dry ? ' (estimate)' : ''}`)
      if (r.tier !== undefined) {
        const t = r.tier
        ctx.out.line(`object store: ${t.packsDeleted} packs (${formatBytes(t.bytesDeleted)}) ${dry ? 'to delete' : 'deleted'}, ${t.packsMarked} ${dry ? 'to mark' : 'marked'}, ${t.packsRewritten} rewritten, ${t.packsRescued} rescued, ${t.candidatesPending} waiting; ${t.versionsRemoved} version objects removed`)
      }
    })
  }
}
