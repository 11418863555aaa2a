/** `kale show RUN_ID`: one run's steps, statuses, durations, snapshots and metrics. */
import type { Command } from '../../cli/command.ts'
import { formatDuration } from '../../cli/output.ts'
import { kaleSettings } from '../config.ts'

export const showCommand: Command = {
  name: 'show',
  summary: "show a run's steps, their snapshot versions and the run's metrics",
  usage: 'show RUN_ID',
  positionals: 1,
  async run (ctx) {
    const { loadRun } = await import('../../../kale/runner/records.ts')
    const run = await loadRun(kaleSettings(ctx).kaleHome, ctx.args[0])
    ctx.out.result(run, (r: typeof run) => {
      ctx.out.line(`run ${r.id}: pipeline '${r.pipeline}' ${r.status}${r.durationMs !== undefined ? ` in ${formatDuration(r.durationMs / 1000)}` : ''}`)
      ctx.out.line(`source ${r.source}`)
      if (r.from !== undefined) {
        const how = r.from.restored !== undefined ? `, restored from ${r.from.restored.bucket}@${r.from.restored.seq}` : ', its saved values copied'
        ctx.out.line(`re-run from step '${r.from.step}' of run ${r.from.run}${how}`)
      }
      if (Object.keys(r.params).length > 0) ctx.out.line(`params ${Object.entries(r.params).map(([k, v]) => `${k}=${String(v)}`).join(' ')}`)
      ctx.out.line('')
      for (const s of r.steps) {
        const took = s.durationMs !== undefined ? formatDuration(s.durationMs / 1000) : '-'
        const snap = [s.snapshots?.before && `before ${s.snapshots.before.bucket}@${s.snapshots.before.seq}`, s.snapshots?.after && `after @${s.snapshots.after.seq}`].filter(Boolean).join(', ')
        ctx.out.line(`  ${s.name.padEnd(20)} ${s.status.padEnd(9)} ${took.padStart(6)}${s.reusedFrom !== undefined ? `  reused from ${s.reusedFrom}` : ''}${snap !== '' ? `  ${snap}` : ''}`)
        if (s.error !== undefined) ctx.out.line(`      ${s.error.message}`)
      }
      for (const [k, v] of Object.entries(r.metrics)) ctx.out.line(`  metric ${k} = ${v}`)
    })
  }
}
