/**
 * Run a command against the node of a home: through the API of the daemon that owns it
 * when one is running (it holds the home's lock), otherwise by opening the home in-process.
 * Either way the command sees the same NodeOperations.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { openEngine, type Engine } from '../../../node/engine.ts'
import { HomeErrorCode } from '../../../node/home.ts'
import { localOperations } from '../../../node/operations.ts'
import { connectToNode, type NodeApiClient } from '../../../node/api/client.ts'
import { isRokError } from '../../../protocol/errors.ts'
import type { NodeOperations } from '../../../protocol/node-api.ts'
import type { CommandContext } from '../../cli/command.ts'

/**
 * How long a command waits for the daemon that holds the home's lock to answer. A daemon
 * that is still starting, or too busy to answer its health check in time, holds the lock
 * before its API is up; failing at once would make `rok node start & rok allow …` racy.
 */
const DAEMON_WAIT_MS = 20_000
const DAEMON_POLL_MS = 250

/** The running daemon's API client, or the home opened in-process when no daemon runs. */
export async function nodeOrEngine (home: string): Promise<{ client: NodeApiClient } | { engine: Engine }> {
  const deadline = Date.now() + DAEMON_WAIT_MS
  for (;;) {
    const client = await connectToNode(home)
    if (client !== undefined) return { client }
    try {
      return { engine: await openEngine({ home }) }
    } catch (err) {
      if (!isRokError(err, HomeErrorCode.HOME_LOCKED) || Date.now() >= deadline) throw err
      await sleep(DAEMON_POLL_MS)
    }
  }
}

export async function withNode<T> (ctx: CommandContext, fn: (ops: NodeOperations) => Promise<T>): Promise<T> {
  const node = await nodeOrEngine(ctx.home)
  if ('client' in node) return await fn(node.client)
  try {
    return await fn(localOperations(node.engine))
  } finally {
    await node.engine.close()
  }
}
