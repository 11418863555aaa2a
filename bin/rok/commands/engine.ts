/** Open the node home's engine for one command and always close it. */
import { openEngine, type Engine } from '../../../node/engine.ts'
import type { CommandContext } from '../../cli/command.ts'

export async function withEngine<T> (ctx: CommandContext, fn: (engine: Engine) => Promise<T>, create = false): Promise<T> {
  const engine = await openEngine({ home: ctx.home, create })
  try {
    return await fn(engine)
  } finally {
    await engine.close()
  }
}
