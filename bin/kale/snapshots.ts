/**
 * Opening the Rok node's snapshot engine for `kale run`. The engine is a library in
 * node/engine.ts; it is loaded only when snapshots are wanted.
 */
import type { Output } from '../cli/output.ts'
import { KaleErrorCode, kaleError } from '../../kale/errors.ts'
import { stepSnapshots, type SnapshotEngine, type StepSnapshots } from '../../kale/runner/snapshots.ts'

interface Engine extends SnapshotEngine {
  close: () => Promise<void> | void
}

/**
 * `required` (from --snapshot) turns a missing engine into an error; otherwise (a Rok
 * home merely exists) Kale runs without snapshots and says so.
 */
export async function openStepSnapshots (home: string, pipeline: string, required: boolean, out: Output):
Promise<{ snapshots: StepSnapshots, close: () => Promise<void> } | undefined> {
  let engine: Engine
  try {
    const mod = await import('../../node/engine.ts') as { openEngine: (o: { home: string }) => Promise<Engine> | Engine }
    engine = await mod.openEngine({ home })
  } catch (cause) {
    if (required) throw kaleError(KaleErrorCode.SNAPSHOT, `--snapshot: cannot open the Rok snapshot engine at ${home}: ${(cause as Error).message}`, { cause })
    out.note(`note: running without step snapshots (Rok snapshot engine unavailable: ${(cause as Error).message.split('\n')[0]})`)
    return undefined
  }
  return { snapshots: stepSnapshots(engine, pipeline), close: async () => { await engine.close() } }
}
