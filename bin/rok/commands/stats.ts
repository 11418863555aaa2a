import type { Command } from '../../cli/command.ts'
import { formatBytes } from '../../cli/output.ts'
import { withNode } from './engine.ts'

export const stats: Command = {
  name: 'stats',
  summary: 'show store size, versions and the deduplication ratio',
  usage: 'stats',
  positionals: 0,
  async run (ctx) {
    const s = await withNode(ctx, async node => await node.stats())
    ctx.out.result(s, r => {
      ctx.out.line(`node ${r.peerId}`)
      ctx.out.line(`${r.buckets} buckets, ${r.versions} versions, ${formatBytes(r.logicalBytes)} in all versions`)
      ctx.out.line(`${r.blocks} blocks, ${formatBytes(r.storedBytes)} stored in ${r.packs} packs (${formatBytes(r.packBytes)} on disk)`)
      ctx.out.line(`dedup ratio ${r.dedupRatio.toFixed(2)}×`)
    })
  }
}
