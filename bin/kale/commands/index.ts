/** Every `kale` verb, in the order `kale --help` lists them. */
import type { Command } from '../../cli/command.ts'
import { compileCommand } from './compile.ts'
import { runCommand } from './run.ts'
import { runsCommand } from './runs.ts'
import { showCommand } from './show.ts'
import { submitCommand } from './submit.ts'

export const commands: Command[] = [
  runCommand,
  runsCommand,
  showCommand,
  compileCommand,
  submitCommand
]
