/**
 * docker/ checked statically (this machine has no Docker engine): every file a Dockerfile
 * copies exists; every `rok` command the images, the entrypoint and the compose file run
 * is a real verb with real options (checked against the CLI's own verb table, so renaming
 * a flag breaks this test, not a deployment); the entrypoint parses as POSIX sh; the
 * compose file parses, its services depend on services that exist, build from Dockerfiles
 * that exist, and give each node what its entrypoint needs; health checks hit routes the
 * servers really have.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { execFileSync } from 'node:child_process'
import { access, readdir, readFile, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { checkRokCommand } from './verbs.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const DOCKER = join(ROOT, 'docker')
/** The words of each `rok …` invocation in a shell script (quotes dropped, ; && | end a command). */
function rokInvocations (script: string): string[][] {
  const found: string[][] = []
  for (const raw of script.split('\n')) {
    const line = raw.replace(/#.*$/, '')
    for (const m of line.matchAll(/(?:^|[\s;&|(]|until |exec )rok((?:\s+[^;&|)]+)?)/g)) {
      found.push((m[1].match(/"[^"]*"|'[^']*'|\S+/g) ?? []).map(w => w.replace(/^["']|["']$/g, '')))
    }
  }
  return found
}

async function dockerfiles (): Promise<string[]> {
  return (await readdir(DOCKER)).filter(f => f.endsWith('.Dockerfile'))
}

test('every Dockerfile copies files that exist and runs real rok verbs', async () => {
  const files = await dockerfiles()
  assert.deepEqual(files.sort(), ['node.Dockerfile', 'registry.Dockerfile'])
  for (const f of files) {
    const text = await readFile(join(DOCKER, f), 'utf8')
    assert.match(text, /^FROM node:24[-\w]*$/m, `${f}: the pinned Node major`)
    for (const m of text.matchAll(/^COPY\s+(?!--from)(.+)$/gm)) {
      const words = m[1].trim().split(/\s+/)
      for (const src of words.slice(0, -1)) await access(join(ROOT, src)).catch(() => assert.fail(`${f}: COPY ${src} does not exist in the repository`))
    }
    const entry = /^ENTRYPOINT\s+(\[.*\])$/m.exec(text)
    assert.ok(entry !== null, `${f}: has an ENTRYPOINT`)
    const argv = JSON.parse(entry[1]) as string[]
    if (argv[0] === 'rok') checkRokCommand(argv.slice(1), `${f} ENTRYPOINT`)
    else assert.match(text, new RegExp(`^COPY docker/\\S+ /usr/local/bin/${argv[0]}$`, 'm'), `${f}: the entrypoint ${argv[0]} is copied in`)
    assert.ok(await stat(join(DOCKER, `${f}.dockerignore`)).then(() => true, () => false), `${f}: has a .dockerignore so node_modules stays out of the build context`)
  }
})

test('the node entrypoint parses as POSIX sh and its rok commands are real verbs and options', async () => {
  const path = join(DOCKER, 'node-entrypoint.sh')
  assert.ok(((await stat(path)).mode & 0o111) !== 0, 'executable')
  execFileSync('sh', ['-n', path])
  const script = await readFile(path, 'utf8')
  const calls = rokInvocations(script)
  assert.deepEqual(calls.map(c => c.slice(0, c[0] === 'node' || c[0] === 'tier' ? 2 : 1).join(' ')), ['init', 'login', 'tier set', 'node start'])
  for (const c of calls) checkRokCommand(c, 'node-entrypoint.sh')
})

test('the compose file: services, dependencies, Dockerfiles and the environment each node needs', async () => {
  const compose = parse(await readFile(join(DOCKER, 'compose.yaml'), 'utf8'), { merge: true }) as { services: Record<string, any>, volumes: Record<string, unknown> }
  const services = compose.services
  assert.deepEqual(Object.keys(services).filter(s => s.startsWith('node-')).sort(), ['node-a', 'node-b', 'node-c'], 'three clusters')
  const entrypoint = await readFile(join(DOCKER, 'node-entrypoint.sh'), 'utf8')
  for (const [name, s] of Object.entries(services)) {
    for (const dep of Object.keys(s.depends_on ?? {})) assert.ok(services[dep] !== undefined, `${name} depends on ${dep}, which is not a service`)
    if (s.build !== undefined) {
      const dockerfile = resolve(DOCKER, s.build.context, s.build.dockerfile)
      await access(dockerfile).catch(() => assert.fail(`${name}: ${s.build.dockerfile} does not exist`))
      assert.equal(resolve(DOCKER, s.build.context), resolve(ROOT), `${name} builds from the repository root`)
    }
    for (const v of s.volumes ?? []) {
      const named = String(v).split(':')[0]
      assert.ok(named in compose.volumes, `${name}: volume ${named} is declared`)
    }
    if (name.startsWith('node-')) {
      const env = s.environment as Record<string, string>
      assert.equal(env.ROK_REGISTRY_URL, 'http://registry:7447', `${name} reaches the registry by its service name and port`)
      assert.ok(env.ROK_REGISTRY_TOKEN !== undefined, `${name} has a token to log in with`)
      for (const key of Object.keys(env)) assert.ok(entrypoint.includes(key) || key.startsWith('AWS_'), `${name}: ${key} is read by the entrypoint`)
      if (env.ROK_TIER_ENDPOINT !== undefined) {
        assert.ok(env.AWS_ACCESS_KEY_ID !== undefined && env.AWS_SECRET_ACCESS_KEY !== undefined, `${name}: the tier has credentials`)
        assert.match(env.ROK_TIER_ENDPOINT, /^http:\/\/s3:9000$/)
        assert.ok(services[name].depends_on['s3-init'] !== undefined, `${name} waits for the tier's bucket`)
      }
    }
  }
  const registryEntry = /^ENTRYPOINT\s+(\[.*\])$/m.exec(await readFile(join(DOCKER, 'registry.Dockerfile'), 'utf8'))!
  assert.ok(JSON.parse(registryEntry[1]).includes('0.0.0.0:7447'), 'the registry listens on the port the nodes use')
  assert.ok(services.registry.environment.ROK_ADMIN_TOKEN !== undefined, 'the admin token is set, not printed once into a log')
})

test('health checks ask routes the node and the registry really serve', async () => {
  for (const [file, source] of [['node.Dockerfile', 'node/api/app.ts'], ['registry.Dockerfile', 'registry/app.ts']]) {
    const check = /^HEALTHCHECK .*fetch\('http:\/\/127\.0\.0\.1:\d+(\/[a-z/]+)'\)/m.exec(await readFile(join(DOCKER, file), 'utf8'))
    assert.ok(check !== null, `${file} has a health check`)
    assert.ok((await readFile(join(ROOT, source), 'utf8')).includes(`'${check[1]}'`), `${source} serves ${check[1]}`)
  }
})
