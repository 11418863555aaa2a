/**
 * A small real cluster for CLI tests, built from the demo's own process runner: a registry
 * (`rok registry start`), an admin home, and node homes logged in as their own users. So
 * the tests exercise the same pieces `npm run demo` runs on.
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { createRunner, type NodeHandle, type Runner, type Service } from '../../bin/demo/processes.ts'

export interface TestCluster {
  dir: string
  run: Runner
  registry: Service & { url: string }
  /** Homes by user name ('admin' included). */
  homes: Record<string, string>
  tokens: Record<string, string>
  /** `rok ARGS --home HOME --json` as `user`. */
  as: (user: string) => <T = any>(...args: string[]) => Promise<T>
  startNode: (user: string, args?: string[]) => Promise<Service & NodeHandle>
  /** Start the registry again on the same port and data after `registry.stop()`. */
  restartRegistry: () => Promise<void>
}

/** Registry on loopback plus a logged-in home (`rok init` + `rok login`) per user. */
export async function startCluster (dir: string, users: string[]): Promise<TestCluster> {
  const run = createRunner({ print: () => {}, workDir: dir })
  const adminToken = randomBytes(24).toString('hex')
  const data = join(dir, 'registry')
  const registryArgs = ['--data', data, '--admin-token', adminToken, '--log-level', 'warn', '--rate-limit', '0']
  const cluster: TestCluster = {
    dir,
    run,
    registry: await run.startRegistry(data, ['--listen', '127.0.0.1:0', ...registryArgs]),
    homes: { admin: join(dir, 'admin') },
    tokens: { admin: adminToken },
    as: (user) => async (...args) => await run.rok(user, cluster.homes[user], args),
    startNode: async (user, args = []) => await run.startNode(user, cluster.homes[user], ['--registry-retry-max', '2', '--poll-interval', '2', ...args]),
    restartRegistry: async () => {
      cluster.registry = await run.startRegistry(data, ['--listen', new URL(cluster.registry.url).host, ...registryArgs])
    }
  }
  await cluster.as('admin')('login', cluster.registry.url, '--token', adminToken)
  for (const user of users) {
    cluster.homes[user] = join(dir, user)
    cluster.tokens[user] = (await cluster.as('admin')('user', 'create', user)).token
    await cluster.as(user)('init')
    await cluster.as(user)('login', cluster.registry.url, '--token', cluster.tokens[user])
  }
  return cluster
}
