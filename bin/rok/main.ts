/**
 * The `rok` command: one table of verbs. Each verb lives in `commands/` and is loaded
 * only when run, so `rok --help` and small verbs start fast.
 */
import { runCli, type Program } from '../cli/run.ts'
import { commands } from './commands/index.ts'

const program: Program = {
  name: 'rok',
  summary: 'federated, peer-to-peer snapshots for machine-learning teams',
  commands
}

export async function main (argv: string[]): Promise<void> {
  process.exitCode = await runCli(program, argv)
}
