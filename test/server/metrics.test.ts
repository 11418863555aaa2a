import { test } from 'node:test'
import assert from 'node:assert/strict'
import Fastify from 'fastify'
import { metricsPlugin } from '../../server/metrics-plugin.ts'

test('/metrics counts requests by method, route and status, and their latency as a cumulative histogram', async () => {
  const app = Fastify()
  await app.register(metricsPlugin, { prefix: 't_' })
  app.get('/items/:id', async () => ({ ok: true }))
  app.get('/slow', async () => { await new Promise(resolve => setTimeout(resolve, 30)); return { ok: true } })
  await app.ready()
  for (const url of ['/items/1', '/items/2', '/slow', '/missing/a', '/missing/b']) await app.inject(url)
  const body = (await app.inject('/metrics')).body
  await app.close()

  assert.match(body, /^t_http_requests_total\{method="GET",route="\/items\/:id",status="200"\} 2$/m)
  assert.match(body, /^t_http_requests_total\{method="GET",route="unmatched",status="404"\} 2$/m, 'unknown URLs share one label')
  const line = (route: string, le: string): string => `t_http_request_duration_seconds_bucket{method="GET",route="${route}",le="${le}"} `
  const bucket = (route: string, le: string): number => Number(body.split('\n').find(l => l.startsWith(line(route, le)))?.slice(line(route, le).length))
  assert.equal(bucket('/slow', '0.02'), 0, 'a 30 ms request is not under 20 ms')
  assert.equal(bucket('/slow', '30'), 1, 'buckets are cumulative: it is counted in every one at or above its latency')
  assert.ok(bucket('/items/:id', '0.001') <= bucket('/items/:id', '0.01'))
  assert.equal(bucket('/slow', '+Inf'), 1)
  assert.match(body, /^t_http_request_duration_seconds_count\{method="GET",route="\/items\/:id"\} 2$/m)
  const sum = Number(/^t_http_request_duration_seconds_sum\{method="GET",route="\/slow"\} ([\d.e-]+)$/m.exec(body)?.[1])
  assert.ok(sum >= 0.025 && sum < 5, `latency sum ${sum}`)
  assert.match(body, /^t_process_cpu_user_seconds_total /m, 'process defaults are still there')
})
