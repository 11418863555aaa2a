/**
 * Opening the Rok node's snapshots for `kale run`: through the API of the node daemon
 * when one owns the home (it holds the home's lock), else the engine in-process.
 */
import { resolve } from 'node:path'
import type { Output } from '../cli/output.ts'
import { connectToNode } from '../../node/api/client.ts'
import { openEngine } from '../../node/engine.ts'
import { KaleErrorCode, kaleError } from '../../kale/errors.ts'
import { stepSnapshots, type SnapshotEngine, type StepSnapshots } from '../../kale/runner/snapshots.ts'

interface Engine extends SnapshotEngine {
  close: () => Promise<void> | void
}

async function throughRunningNode (home: string): Promise<Engine | undefined> {
  const node = await connectToNode(home)
  if (node === undefined) return undefined
  return {
    snapshot: async (path, o) => await node.snapshot({ path: resolve(path), bucket: o.bucket, message: o.message }, { signal: o.signal }),
    restore: async (o) => await node.restore({ version: o.seq === undefined ? o.bucket : `${o.bucket}@${o.seq}`, dest: resolve(o.dest), force: o.force }, { signal: o.signal }),
    close: () => {}
  }
}

/**
 * `required` (from --snapshot) turns a missing engine into an error; otherwise (a Rok
 * home merely exists) Kale runs without snapshots and says so.
 */
export async function openStepSnapshots (home: string, pipeline: string, required: boolean, out: Output):
Promise<{ snapshots: StepSnapshots, close: () => Promise<void> } | undefined> {
  let engine: Engine
  try {
    engine = await throughRunningNode(home) ?? await openEngine({ home })
  } catch (cause) {
    if (required) throw kaleError(KaleErrorCode.SNAPSHOT, `--snapshot: cannot open the Rok snapshot engine at ${home}: ${(cause as Error).message}`, { cause })
    out.note(`note: running without step snapshots (Rok snapshot engine unavailable: ${(cause as Error).message.split('\n')[0]})`)
    return undefined
  }
  return { snapshots: stepSnapshots(engine, pipeline), close: async () => { await engine.close() } }
}
