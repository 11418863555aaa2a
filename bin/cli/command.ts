/**
 * The shape every CLI verb takes. A verb declares its options once; parsing, `--help`,
 * `--json`, `--home` and error printing are handled by `runCli` for all of them.
 */
import type { ParseArgsOptionsConfig } from 'node:util'
import type { Output } from './output.ts'

export interface CommandContext {
  /** Positional arguments after the verb (and sub-verb, if any). */
  args: string[]
  /** Parsed options, by long name. */
  options: Record<string, string | boolean | string[] | undefined>
  /** The node home (`--home`, `ROK_HOME`, default `~/.rok`). */
  home: string
  /** Environment, read once at the root and passed down. */
  env: NodeJS.ProcessEnv
  out: Output
  signal: AbortSignal
}

export interface Command {
  name: string
  /** One line, shown in the verb list. */
  summary: string
  /** Usage line(s) after the program name, e.g. `snapshot PATH --bucket G/N [-m MSG]`. */
  usage: string
  /** Longer help: what it does, examples. */
  description?: string
  options?: ParseArgsOptionsConfig
  /** Help text per option, by long name. */
  optionHelp?: Record<string, string>
  /** Sub-verbs (`rok group create`); when present, `run` is not used. */
  subcommands?: Command[]
  /** Exact number of positionals, or [min, max]. Checked before `run`. */
  positionals?: number | [number, number]
  run?: (ctx: CommandContext) => Promise<number | void>
}

/**
 * A top-level verb known by name only until it is run: its module (and whatever heavy
 * parts it imports: the engine, libp2p, the S3 SDK) is loaded then, so `rok search` does
 * not pay for the snapshot engine. `--help` of the whole program loads them all.
 */
export interface LazyCommand {
  name: string
  load: () => Promise<Command>
}

export type CommandEntry = Command | LazyCommand

export async function loadCommand (entry: CommandEntry): Promise<Command> {
  return 'load' in entry ? await entry.load() : entry
}
