import type { Command } from '../../cli/command.ts'
import { formatBytes } from '../../cli/output.ts'
import { parseVersionRef } from '../../../protocol/bucket-name.ts'
import { withNode } from './engine.ts'

export const diff: Command = {
  name: 'diff',
  summary: 'show paths added, removed and changed between two versions',
  usage: 'diff GROUP/NAME@A GROUP/NAME@B',
  description: 'Lists what changed from version A to version B and how many bytes differ. Unchanged sub-folders are skipped without being read.\n\nExample:\n  rok diff acme/data@1 acme/data@2',
  positionals: 2,
  async run (ctx) {
    ctx.args.forEach(parseVersionRef)
    const result = await withNode(ctx, async node => await node.diff(ctx.args[0], ctx.args[1], { signal: ctx.signal }))
    const { summary, changes } = result
    ctx.out.result(result, () => {
      const sign: Record<string, string> = { added: '+', removed: '-', changed: 'M' }
      for (const c of changes) {
        ctx.out.line(`${sign[c.kind]} ${c.path === '' ? '(image)' : c.path}${c.type === 'dir' ? '/' : ''}${c.what !== undefined ? `  (${c.what.join(', ')})` : ''}${c.bytes > 0 ? `  ${formatBytes(c.bytes)}` : ''}`)
      }
      ctx.out.line(`${summary.added} added, ${summary.removed} removed, ${summary.changed} changed; ${formatBytes(summary.bytesDiffering)} differ`)
    })
  }
}
