/** The baseline: a bare fastify route in its own process, like the registry's. */
import Fastify from 'fastify'

const app = Fastify()
app.get('/bare', async () => ({ ok: true }))
await app.listen({ port: 0, host: '127.0.0.1' })
process.stdout.write(`listening ${(app.server.address() as { port: number }).port}\n`)
process.on('SIGTERM', () => { void app.close().then(() => process.exit(0)) })
