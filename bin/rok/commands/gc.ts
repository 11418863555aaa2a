import type { Command } from '../../cli/command.ts'
import { formatBytes } from '../../cli/output.ts'
import { withNode } from './engine.ts'

export const gc: Command = {
  name: 'gc',
  summary: 'remove chunks no version references and compact packs',
  usage: 'gc [--dry-run]',
  description: 'Marks every block reachable from a version, drops the rest from the index, deletes packs with nothing live and rewrites packs that are mostly garbage. Safe to interrupt at any point.',
  options: { 'dry-run': { type: 'boolean', short: 'n' } },
  optionHelp: { 'dry-run': 'report what would be removed, change nothing' },
  positionals: 0,
  async run (ctx) {
    const report = await withNode(ctx, async node => await node.gc({ dryRun: ctx.options['dry-run'] === true }, { signal: ctx.signal }))
    ctx.out.result(report, r => {
      const verb = r.dryRun ? 'would remove' : 'removed'
      ctx.out.line(`${verb} ${r.deadBlocks} unreferenced blocks (${formatBytes(r.deadBytes)}); ${r.liveBlocks} live blocks (${formatBytes(r.liveBytes)})`)
      ctx.out.line(`packs: ${r.packsRemoved} ${r.dryRun ? 'to delete' : 'deleted'}, ${r.packsRewritten} ${r.dryRun ? 'to rewrite' : 'rewritten'}${r.dryRun ? '' : `; on disk ${formatBytes(r.packBytesBefore)} → ${formatBytes(r.packBytesAfter)}`}`)
    })
  }
}
