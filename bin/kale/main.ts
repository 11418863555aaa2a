/**
 * The `kale` command: notebooks and SDK modules → pipelines, run here or on Kubeflow.
 * Each verb lives in `commands/` and is loaded only when run.
 */
import { runCli, type Program } from '../cli/run.ts'
import { commands } from './commands/index.ts'

const program: Program = {
  name: 'kale',
  summary: 'turn a tagged notebook or Kale SDK module into a pipeline; run it locally or on Kubeflow Pipelines',
  commands
}

export async function main (argv: string[]): Promise<void> {
  process.exitCode = await runCli(program, argv)
}
