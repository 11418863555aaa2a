/** Every `rok` verb, in the order `rok --help` lists them. */
import type { Command } from '../../cli/command.ts'

export const commands: Command[] = [
]
