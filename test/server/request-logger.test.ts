import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import Fastify from 'fastify'
import { lazyChildLogger } from '../../server/request-logger.ts'

/** A fastify app logging JSON lines at `level` into an array, with a route that logs through `request.log`. */
async function appLoggingAt (level: string, lazy: boolean): Promise<{ lines: Array<Record<string, unknown>>, ask: (url: string) => Promise<void>, close: () => Promise<void> }> {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({ write (chunk: Buffer, _enc, done) { lines.push(JSON.parse(chunk.toString())); done() } })
  const app = Fastify({ logger: { level, stream }, ...(lazy ? { childLoggerFactory: lazyChildLogger } : {}) })
  app.get('/quiet', async () => ({ ok: true }))
  app.get('/warns', async (request) => { request.log.warn({ what: 'w' }, 'a warning'); request.log.debug('a debug line'); return { ok: true } })
  app.get('/louder', async (request) => { request.log.level = 'debug'; request.log.debug({ what: 'd' }, 'now debug'); return { ok: true } })
  app.get('/child', async (request) => { request.log.child({ part: 'p' }).warn('from a child'); return { ok: true } })
  await app.ready()
  return {
    lines,
    ask: async (url) => { assert.equal((await app.inject(url)).statusCode, 200) },
    close: async () => { await app.close() }
  }
}

/** What was logged, without the fields that differ run to run. */
const stable = (lines: Array<Record<string, unknown>>): unknown[] => lines.map(({ time, pid, hostname, responseTime, ...rest }) => rest)

test('a lazily made request logger writes exactly what pino\'s child would, request id included', async () => {
  for (const level of ['warn', 'info', 'debug']) {
    const logged: unknown[][] = []
    for (const lazy of [false, true]) {
      const { lines, ask, close } = await appLoggingAt(level, lazy)
      for (const url of ['/quiet', '/warns', '/louder', '/child']) await ask(url)
      await close()
      logged.push(stable(lines))
    }
    assert.deepEqual(logged[1], logged[0], `level ${level}`)
    assert.ok(logged[1].some(l => (l as Record<string, unknown>).msg === 'a warning' && (l as Record<string, unknown>).reqId === 'req-2'), `level ${level}: the warning names its request`)
    assert.ok(logged[1].some(l => (l as Record<string, unknown>).msg === 'now debug'), `level ${level}: a level raised on the request's logger takes effect`)
    assert.ok(logged[1].some(l => (l as Record<string, unknown>).msg === 'from a child' && (l as Record<string, unknown>).part === 'p'), `level ${level}: a child logs with both bindings`)
  }
})
