import type { Command } from '../../cli/command.ts'
import { formatBytes } from '../../cli/output.ts'
import { EXIT_FAILURE, UsageError } from '../../cli/run.ts'
import { withNode } from './engine.ts'

export const verify: Command = {
  name: 'verify',
  summary: 'check every stored block against its hash and every version for missing data',
  usage: 'verify [--repair] [--tier]',
  description: 'Reads back every block, checks it against its CID, checks every pack\'s table of contents against the index (a damaged one is dropped: it is only a shortcut to the index, and peers would be served wrong bytes from it), then walks every version. For each corrupt or missing block it names every version and path it breaks. Exits 1 when anything is damaged. With --repair, corrupt and unreadable blocks also leave the index (nothing serves or restores their bytes any more) and every version the damage breaks is marked for healing: the next sync of its bucket (`rok sync G/N`, or the daemon\'s own: when it starts, on an announcement, or at its next poll) fetches what it lacks from peers. With --tier, checks the object-storage tier\'s copy instead: every pack it records is there and intact, and every pushed version has its version object and all its blocks.',
  options: { tier: { type: 'boolean' }, repair: { type: 'boolean' } },
  optionHelp: { tier: 'check the object-storage tier (reads every pack once)', repair: 'make the damage fetchable again: unindex corrupt blocks, mark broken versions for their bucket\'s next sync to heal' },
  positionals: 0,
  async run (ctx) {
    if (ctx.options.tier === true) {
      if (ctx.options.repair === true) throw new UsageError('--repair applies to the local store, not to --tier; run them separately')
      return await verifyTierCommand(ctx)
    }
    const bar = ctx.out.progress('verify')
    const report = await withNode(ctx, async node => await node.verify({ repair: ctx.options.repair === true }, { signal: ctx.signal, onProgress: p => bar.update(p.bytes) }))
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
      if (r.repaired !== undefined) {
        ctx.out.line(`repaired: ${r.repaired.unindexed} bad block${r.repaired.unindexed === 1 ? '' : 's'} unindexed; ${r.repaired.versions.length} version${r.repaired.versions.length === 1 ? '' : 's'} marked for healing by their bucket's next sync`)
        for (const v of r.repaired.versions) ctx.out.line(`  ${v.bucket}@${v.seq}`)
      }
    })
    return report.ok ? 0 : EXIT_FAILURE
  }
}

async function verifyTierCommand (ctx: Parameters<NonNullable<Command['run']>>[0]): Promise<number> {
  const bar = ctx.out.progress('verify tier')
  const report = await withNode(ctx, async node => await node.tierVerify({ signal: ctx.signal, onProgress: p => bar.update(p.bytes) }))
  bar.done()
  ctx.out.result(report, r => {
    if (r.ok) {
      ctx.out.line(`ok: tier holds ${r.packs} intact packs (${r.blocks} blocks, ${formatBytes(r.bytes)}), ${r.versions} pushed versions complete`)
      return
    }
    ctx.out.line(`TIER DAMAGED: ${r.damaged.length} problem${r.damaged.length === 1 ? '' : 's'} (${r.packs} packs checked)`)
    for (const d of r.damaged) ctx.out.line(`  ${d.problem} ${d.what}${d.detail !== undefined ? `: ${d.detail}` : ''}`)
  })
  return report.ok ? 0 : EXIT_FAILURE
}
