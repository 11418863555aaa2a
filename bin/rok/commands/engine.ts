/**
 * Run a command against the node of a home: through the API of the daemon that owns it
 * when one is running (it holds the home's lock), otherwise by opening the home in-process.
 * Either way the command sees the same NodeOperations.
 */
import { openEngine } from '../../../node/engine.ts'
import { localOperations } from '../../../node/operations.ts'
import { connectToNode } from '../../../node/api/client.ts'
import type { NodeOperations } from '../../../protocol/node-api.ts'
import type { CommandContext } from '../../cli/command.ts'

export async function withNode<T> (ctx: CommandContext, fn: (ops: NodeOperations) => Promise<T>): Promise<T> {
  const remote = await connectToNode(ctx.home)
  if (remote !== undefined) return await fn(remote)
  const engine = await openEngine({ home: ctx.home })
  try {
    return await fn(localOperations(engine))
  } finally {
    await engine.close()
  }
}
