/** Shared by the tier tests: a home with a tier on a test s3rver, through the real CLI. */
import assert from 'node:assert/strict'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { runRok, rokJson } from '../fixtures/cli.ts'
import type { S3Server } from '../fixtures/s3-server.ts'

/** `rok init` a home and point its tier at the test server. */
export async function homeWithTier (dir: string, name: string, s3: S3Server, extra: string[] = []): Promise<string> {
  const home = join(dir, name)
  const init = await runRok(['init', '--home', home], s3.env)
  assert.equal(init.code, 0, init.stderr)
  await withServerLog(s3, async () => await rokJson(['tier', 'set', '--endpoint', s3.endpoint, '--bucket', s3.bucket, '--path-style', '--home', home, ...extra], s3.env))
  return home
}

export async function rok<T = any> (s3: S3Server, home: string, args: string[]): Promise<T> {
  return await withServerLog(s3, async () => await rokJson<T>([...args, '--home', home], s3.env))
}

/** A failure caused by the object store carries what the store said about it. */
async function withServerLog<T> (s3: S3Server, run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (err) {
    const log = s3.log()
    if (err instanceof Error && log !== '') err.message += `\n--- s3rver stderr ---\n${log.slice(-4000)}`
    throw err
  }
}

/** Pack objects s3rver has stored so far (it keeps one file per object in its folder). */
export async function packsInStore (s3: S3Server): Promise<number> {
  const files = await readdir(join(s3.directory, s3.bucket, 'packs'), { recursive: true }).catch(() => [] as string[])
  return files.filter(f => f.endsWith('._S3rver_object')).length
}
