/**
 * Kale's settings from options and environment, read once per command at the CLI root
 * and passed down as values: nothing under kale/ reads process.env.
 */
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import type { ParseArgsOptionsConfig } from 'node:util'
import type { CommandContext } from '../cli/command.ts'
import { DEFAULT_PYTHON } from '../../kale/constants.ts'

export const PYTHON_OPTION: ParseArgsOptionsConfig = { python: { type: 'string' } }
export const PYTHON_HELP = { python: 'Python interpreter for analysis and steps (default $KALE_PYTHON or python3)' }

export interface KaleSettings {
  python: string
  /** Where runs are recorded: $KALE_HOME or ~/.kale. */
  kaleHome: string
}

export function kaleSettings (ctx: CommandContext): KaleSettings {
  const python = typeof ctx.options.python === 'string' ? ctx.options.python : ctx.env.KALE_PYTHON ?? DEFAULT_PYTHON
  const kaleHome = resolve(ctx.env.KALE_HOME ?? join(homedir(), '.kale'))
  return { python, kaleHome }
}
