import type { Command } from '../../cli/command.ts'
import { formatBytes } from '../../cli/output.ts'
import { EXIT_FAILURE } from '../../cli/run.ts'
import { withNode } from './engine.ts'

export const verify: Command = {
  name: 'verify',
  summary: 'check every stored block against its hash and every version for missing data',
  usage: 'verify',
  description: 'Reads back every block, checks it against its CID, then walks every version. For each corrupt or missing block it names every version and path it breaks. Exits 1 when anything is damaged.',
  positionals: 0,
  async run (ctx) {
    const bar = ctx.out.progress('verify')
    const report = await withNode(ctx, async node => await node.verify({ signal: ctx.signal, onProgress: p => bar.update(p.bytes) }))
    bar.done()
    ctx.out.result(report, r => {
      if (r.ok) {
        ctx.out.line(`ok: ${r.blocks} blocks (${formatBytes(r.bytes)}) verified, ${r.versions} versions complete`)
        return
      }
      ctx.out.line(`DAMAGED: ${r.damaged.length} block${r.damaged.length === 1 ? '' : 's'} bad or missing (${r.blocks} blocks checked)`)
      for (const d of r.damaged) {
        ctx.out.line(`  ${d.problem} ${d.cid}${d.detail !== undefined ? `: ${d.detail}` : ''}`)
        for (const a of d.affects) ctx.out.line(`    breaks ${a.bucket}@${a.seq} ${a.path}`)
      }
    })
    return report.ok ? 0 : EXIT_FAILURE
  }
}
