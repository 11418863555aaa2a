/** `kale run`: run a notebook or SDK module here, one python3 process per step. */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from '../../cli/command.ts'
import { EXIT_FAILURE, UsageError } from '../../cli/run.ts'
import { formatDuration } from '../../cli/output.ts'
import { DEFAULT_PARALLEL } from '../../../kale/constants.ts'
import { PYTHON_HELP, PYTHON_OPTION, kaleSettings } from '../config.ts'

export const runCommand: Command = {
  name: 'run',
  summary: 'run a pipeline on this machine, each step a separate python3 process',
  usage: 'run NOTEBOOK.ipynb|MODULE.py [--param NAME=VALUE]... [--from STEP --run RUN_ID]',
  description: `
Steps run in dependency order, independent branches in parallel; their output is
streamed with the step name in front. Each step is its own process, forked from one
python3 that imported the imports cell once (--fresh-python: a new python3 per step). Values a later step reads are saved in the run's
data folder (pickle, or .npy / pandas / joblib when those libraries are in use).
A failing step's traceback points at the notebook cell and line.

With a Rok home (--home, $ROK_HOME or ~/.rok), every step's data folder is snapshotted
before and after the step into the bucket kale/<pipeline>; --no-snapshot turns that off.

--from STEP --run RUN_ID re-runs STEP and every step that depends on it, reusing the
other steps' saved values from run RUN_ID (after you edit STEP, say).

Examples:
  kale run kale/examples/linear.ipynb --param n=10
  kale run train.ipynb --from train --run 20261128-150102-a1b2c3`,
  positionals: 1,
  options: {
    ...PYTHON_OPTION,
    param: { type: 'string', short: 'p', multiple: true },
    from: { type: 'string' },
    run: { type: 'string' },
    snapshot: { type: 'boolean' },
    'no-snapshot': { type: 'boolean' },
    'fresh-python': { type: 'boolean' },
    parallel: { type: 'string' },
    timeout: { type: 'string' }
  },
  optionHelp: {
    ...PYTHON_HELP,
    param: 'set a pipeline parameter (repeatable)',
    from: 're-run from this step (needs --run)',
    run: 'the earlier run whose other steps are reused',
    snapshot: 'snapshot every step before and after it runs (default when a Rok home exists)',
    'no-snapshot': 'do not snapshot steps',
    'fresh-python': 'start every step as a new python3 instead of forking it from one interpreter that imported the imports cell once (for libraries that do not survive fork)',
    parallel: `most steps running at once (default ${DEFAULT_PARALLEL})`,
    timeout: 'stop a step that runs longer than this many seconds (default: no limit)'
  },
  async run (ctx) {
    const { readPipelineSpec } = await import('../../../kale/load.ts')
    const { analyzePipeline } = await import('../../../kale/analysis.ts')
    const { parseParamArgs } = await import('../../../kale/params.ts')
    const { runPipeline, startWarmPython } = await import('../../../kale/runner/run.ts')
    const settings = kaleSettings(ctx)
    const fromStep = ctx.options.from as string | undefined
    const fromRun = ctx.options.run as string | undefined
    if ((fromStep === undefined) !== (fromRun === undefined)) throw new UsageError('--from STEP and --run RUN_ID go together')
    if (ctx.options.snapshot === true && ctx.options['no-snapshot'] === true) throw new UsageError('--snapshot and --no-snapshot contradict each other')
    const parallel = ctx.options.parallel === undefined ? DEFAULT_PARALLEL : Number(ctx.options.parallel)
    if (!Number.isInteger(parallel) || parallel < 1) throw new UsageError('--parallel must be a whole number ≥ 1')
    const timeout = ctx.options.timeout === undefined ? undefined : Number(ctx.options.timeout)
    if (timeout !== undefined && !(timeout > 0)) throw new UsageError('--timeout must be a number of seconds > 0')

    const spec = await readPipelineSpec(ctx.args[0], { python: settings.python, signal: ctx.signal })
    // The steps' interpreter imports the imports cell while the notebook is analysed.
    const warm = startWarmPython(spec, { python: settings.python, env: ctx.env, freshPython: ctx.options['fresh-python'] === true })
    warm?.catch(() => {})
    // So does the Rok snapshot engine.
    const wantSnapshots = ctx.options['no-snapshot'] === true ? false : ctx.options.snapshot === true ? 'required' : existsSync(ctx.home) ? 'optional' : false
    // The snapshot engine (level, multiformats, the store: ~190 modules) is loaded only for
    // a run that snapshots; without it `kale run` starts in about two thirds of the time.
    const opening = wantSnapshots === false ? undefined : import('../snapshots.ts').then(async m => await m.openStepSnapshots(ctx.home, spec.name, wantSnapshots === 'required', ctx.out))
    opening?.catch(() => {})
    try {
      // An unchanged notebook's analysis is reused from the last run that did it.
      const pipeline = await analyzePipeline(spec, { python: settings.python, signal: ctx.signal, cacheDir: join(settings.kaleHome, 'cache') })
      const launch = (await warm)?.launch
      const snap = await opening
      for (const w of pipeline.warnings) ctx.out.note(`warning: ${pipeline.source}${w.cell !== undefined ? `, cell ${w.cell}` : ''}${w.line !== undefined ? `, line ${w.line}` : ''}: ${w.message}`)
      const params = parseParamArgs((ctx.options.param as string[] | undefined) ?? [], pipeline.parameters)

      const say = (text: string): void => { if (ctx.out.json) ctx.out.note(text); else ctx.out.line(text) }
      const run = await runPipeline(pipeline, {
        python: settings.python,
        kaleHome: settings.kaleHome,
        params,
        from: fromStep !== undefined ? { step: fromStep, run: fromRun! } : undefined,
        snapshots: snap?.snapshots,
        freshPython: ctx.options['fresh-python'] === true,
        launch,
        parallel,
        stepTimeoutMs: timeout !== undefined ? timeout * 1000 : undefined,
        env: ctx.env,
        signal: ctx.signal,
        onEvent (e) {
          if (e.type === 'run:start') say(`run ${e.run.id} of pipeline '${e.run.pipeline}' (${pipeline.order.length} steps)`)
          else if (e.type === 'step:start') say(`[${e.step}] started`)
          else if (e.type === 'step:output') say(`[${e.step}] ${e.line}`)
          else if (e.type === 'step:reused') say(`[${e.step}] reused from run ${e.from}`)
          else if (e.type === 'step:snapshot') say(`[${e.step}] snapshot ${e.when}: ${e.ref.bucket}@${e.ref.seq}`)
          else if (e.type === 'step:end') say(`[${e.step}] ${e.status} in ${formatDuration(e.durationMs / 1000)}`)
        }
      })
      ctx.out.result(run, (r: typeof run) => {
        ctx.out.line(`run ${r.id} ${r.status} in ${formatDuration((r.durationMs ?? 0) / 1000)}`)
        for (const [k, v] of Object.entries(r.metrics)) ctx.out.line(`  metric ${k} = ${v}`)
      })
      const failed = run.steps.find(s => s.status === 'failed')
      if (failed !== undefined) {
        ctx.out.note(`kale run: ${failed.error?.message ?? `step '${failed.name}' failed`} [ERR_KALE_STEP_FAILED]`)
        ctx.out.note(`  fix it, then re-run from there: kale run ${ctx.args[0]} --from ${failed.name} --run ${run.id}`)
        return EXIT_FAILURE
      }
    } finally {
      await (await opening?.catch(() => undefined))?.close()
      await (await warm?.catch(() => undefined))?.close()
    }
  }
}
