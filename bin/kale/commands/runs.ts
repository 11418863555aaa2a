/** `kale runs`: the runs recorded on this machine, newest first. */
import type { Command } from '../../cli/command.ts'
import { formatDuration } from '../../cli/output.ts'
import { kaleSettings } from '../config.ts'

export const runsCommand: Command = {
  name: 'runs',
  summary: 'list recorded runs, newest first',
  usage: 'runs [--pipeline NAME] [--limit N]',
  positionals: 0,
  options: { pipeline: { type: 'string' }, limit: { type: 'string' } },
  optionHelp: { pipeline: 'only runs of this pipeline', limit: 'show at most N runs (default 20)' },
  async run (ctx) {
    const { listRuns } = await import('../../../kale/runner/records.ts')
    const limit = ctx.options.limit === undefined ? 20 : Math.max(1, Number(ctx.options.limit) || 20)
    const all = await listRuns(kaleSettings(ctx).kaleHome)
    const runs = all.filter(r => ctx.options.pipeline === undefined || r.pipeline === ctx.options.pipeline).slice(0, limit)
    ctx.out.result(runs.map(r => ({
      id: r.id,
      pipeline: r.pipeline,
      status: r.status,
      startedAt: r.startedAt,
      durationMs: r.durationMs,
      steps: r.steps.map(s => ({ name: s.name, status: s.status, snapshot: s.snapshots?.after ?? s.snapshots?.before })),
      metrics: r.metrics,
      from: r.from
    })), (list: typeof runs) => {
      if (list.length === 0) { ctx.out.line('no runs yet; start one with: kale run NOTEBOOK.ipynb'); return }
      for (const r of list) {
        const steps = `${r.steps.filter(s => s.status === 'succeeded' || s.status === 'reused').length}/${r.steps.length} steps`
        const took = r.durationMs !== undefined ? formatDuration(r.durationMs / 1000) : '-'
        ctx.out.line(`${r.id}  ${r.pipeline.padEnd(20)} ${r.status.padEnd(9)} ${steps.padEnd(11)} ${took.padStart(6)}  ${r.startedAt}${r.from !== undefined ? `  (from ${r.from.step} of ${r.from.run})` : ''}`)
      }
    })
  }
}
