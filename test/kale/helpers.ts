/**
 * Shared test fixtures for Kale: the Python interpreter under test (KALE_PYTHON, else
 * python3), temporary folders with cleanup, notebooks written from compact cell lists,
 * and the `kale` CLI run as a child process.
 */
import { execFileSync, spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { notebook } from '../../kale/examples/build.ts'
import type { RunEvent } from '../../kale/runner/run.ts'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const EXAMPLES = join(ROOT, 'kale/examples')
export const PYTHON = process.env.KALE_PYTHON ?? 'python3'

const moduleCache = new Map<string, boolean>()

/** Whether the interpreter under test can import every module (for native marshalling tests). */
export function pythonHas (...modules: string[]): boolean {
  const key = modules.join(',')
  let ok = moduleCache.get(key)
  if (ok === undefined) {
    try {
      execFileSync(PYTHON, ['-c', modules.map(m => `import ${m}`).join('; ')], { stdio: 'ignore' })
      ok = true
    } catch {
      ok = false
    }
    moduleCache.set(key, ok)
  }
  return ok
}

/** A skip message for node:test when modules are missing, else false. */
export function skipUnless (...modules: string[]): string | false {
  return pythonHas(...modules) ? false : `${PYTHON} cannot import ${modules.join(', ')}; set KALE_PYTHON=/usr/bin/python3 (Debian's python3-numpy/pandas/sklearn) to run this test`
}

export async function tempDir (prefix = 'kale-test-'): Promise<[string, () => Promise<void>]> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  return [dir, async () => await rm(dir, { recursive: true, force: true })]
}

export interface CellDef { tags?: string[], code: string, markdown?: boolean }

export async function writeNotebook (dir: string, name: string, cells: CellDef[], kubeflow: Record<string, unknown> = {}): Promise<string> {
  const path = join(dir, name)
  await writeFile(path, JSON.stringify(notebook(cells, kubeflow)))
  return path
}

export interface CliResult { code: number | null, stdout: string, stderr: string }

/** Run `kale ARGS` with a private KALE_HOME and, unless given, no Rok home. */
export async function kale (args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/kale.js'), ...args], {
    cwd: ROOT,
    env: { ...process.env, KALE_PYTHON: PYTHON, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString() })
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  return { code, stdout, stderr }
}

/** The lines `step` printed on `stream` ('any': both streams, in order), from a run's events. */
export function stepOutput (events: RunEvent[], step: string, stream: 'stdout' | 'stderr' | 'any' = 'stdout'): string[] {
  return events.filter((e): e is Extract<RunEvent, { type: 'step:output' }> => e.type === 'step:output' && e.step === step && (stream === 'any' || e.stream === stream)).map(e => e.line)
}
