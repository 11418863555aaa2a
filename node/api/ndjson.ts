/**
 * Long operations answer as NDJSON: progress lines while they run, then the result or the
 * error. The operation is aborted if the caller goes away.
 */
import { PassThrough } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { NDJSON, type OperationProgress } from '../../protocol/node-api.ts'
import { RokError } from '../../protocol/errors.ts'

const PROGRESS_INTERVAL_MS = 200

export function streamOperation<T> (request: FastifyRequest, reply: FastifyReply, run: (options: { signal: AbortSignal, onProgress: (p: OperationProgress) => void }) => Promise<T>): FastifyReply {
  const out = new PassThrough()
  const controller = new AbortController()
  // The response closing before it finished means the caller hung up: stop the work.
  reply.raw.on('close', () => { if (!reply.raw.writableFinished) controller.abort(new RokError('ERR_ABORTED', 'the caller went away')) })
  let last = 0
  const onProgress = (p: OperationProgress): void => {
    const now = Date.now()
    if (now - last < PROGRESS_INTERVAL_MS) return
    last = now
    out.write(JSON.stringify({ type: 'progress', ...p }) + '\n')
  }
  run({ signal: controller.signal, onProgress }).then(
    result => { out.end(JSON.stringify({ type: 'result', result }) + '\n') },
    (err: unknown) => {
      const error = err instanceof RokError ? err.toJSON() : { code: 'ERR_INTERNAL', message: 'internal error' }
      if (!(err instanceof RokError)) request.log.error({ err }, 'operation failed')
      out.end(JSON.stringify({ type: 'error', error }) + '\n')
    }
  )
  return reply.type(NDJSON).send(out)
}
