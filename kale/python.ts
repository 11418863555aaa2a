/**
 * Running Kale's own Python helpers: one JSON request on stdin, one JSON reply on stdout,
 * with a deadline and a cap on the reply. The interpreter is chosen once by the caller.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ANALYSIS_TIMEOUT_MS, MAX_HELPER_OUTPUT } from './constants.ts'
import { KaleErrorCode, kaleError } from './errors.ts'

export const PYTHON_DIR = fileURLToPath(new URL('./python/', import.meta.url))

export interface PythonOptions {
  /** Interpreter command or path (`--python` / `KALE_PYTHON`). */
  python: string
  signal?: AbortSignal
  timeoutMs?: number
  /**
   * Keep successful replies in this folder and answer the same request (same helper
   * source, interpreter and request) from it without starting Python: re-running an
   * unchanged notebook skips its analysis. @default no cache
   */
  cacheDir?: string
}

export async function runPythonJson<T> (script: string, request: unknown, opts: PythonOptions): Promise<T> {
  if (opts.cacheDir === undefined) return await runHelper<T>(script, request, opts)
  const source = await readFile(PYTHON_DIR + script)
  const key = createHash('sha256').update(source).update('\0').update(opts.python).update('\0').update(JSON.stringify(request)).digest('hex')
  const file = join(opts.cacheDir, `${script}-${key}.json`)
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T
  } catch { /* not cached yet (or unreadable): ask the helper */ }
  const reply = await runHelper<T>(script, request, opts)
  try {
    await mkdir(opts.cacheDir, { recursive: true })
    const tmp = `${file}.${process.pid}.tmp`
    await writeFile(tmp, JSON.stringify(reply))
    await rename(tmp, file)
  } catch { /* a cache that cannot be written only costs time */ }
  return reply
}

async function runHelper<T> (script: string, request: unknown, opts: PythonOptions): Promise<T> {
  const signal = AbortSignal.any([AbortSignal.timeout(opts.timeoutMs ?? ANALYSIS_TIMEOUT_MS), ...(opts.signal ? [opts.signal] : [])])
  const child = spawn(opts.python, [PYTHON_DIR + script], { stdio: ['pipe', 'pipe', 'pipe'], signal })
  const out: Buffer[] = []
  const err: Buffer[] = []
  let size = 0
  child.stdout.on('data', (b: Buffer) => {
    size += b.length
    if (size > MAX_HELPER_OUTPUT) child.kill('SIGKILL')
    else out.push(b)
  })
  child.stderr.on('data', (b: Buffer) => { if (err.length < 256) err.push(b) })
  child.stdin.on('error', () => {})
  child.stdin.end(JSON.stringify(request))
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') reject(kaleError(KaleErrorCode.PYTHON, `cannot start Python interpreter '${opts.python}': not found (set --python or KALE_PYTHON)`, { cause: e }))
      else if (e.name === 'AbortError') reject(kaleError(KaleErrorCode.PYTHON, `Python helper ${script} was stopped: ${signal.reason instanceof Error ? signal.reason.message : 'timed out'}`, { cause: e }))
      else reject(kaleError(KaleErrorCode.PYTHON, `cannot run '${opts.python}'`, { cause: e }))
    })
    child.on('close', resolve)
  })
  if (code !== 0) {
    const text = Buffer.concat(err).toString().trim().split('\n').slice(-5).join('\n')
    throw kaleError(KaleErrorCode.PYTHON, `Python helper ${script} failed (exit ${String(code)}) under '${opts.python}': ${text}`)
  }
  try {
    return JSON.parse(Buffer.concat(out).toString()) as T
  } catch (cause) {
    throw kaleError(KaleErrorCode.PYTHON, `Python helper ${script} replied with something that is not JSON`, { cause })
  }
}

/**
 * The interpreter's real executable. Version managers put a shell-script shim first on
 * PATH (pyenv's costs about half a second per start); resolving it once per run spares
 * every step that cost while running the very same interpreter. A virtualenv's python
 * resolves to itself, so its packages stay visible.
 */
export async function resolvePython (python: string, signal?: AbortSignal): Promise<string> {
  const child = spawn(python, ['-c', 'import sys; sys.stdout.write(sys.executable or "")'], { stdio: ['ignore', 'pipe', 'ignore'], signal })
  let out = ''
  child.stdout.on('data', (b: Buffer) => { out += b.toString() })
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(kaleError(KaleErrorCode.PYTHON, e.code === 'ENOENT' ? `cannot start Python interpreter '${python}': not found (set --python or KALE_PYTHON)` : `cannot run '${python}'`, { cause: e }))
    })
    child.on('close', resolve)
  })
  if (code !== 0) throw kaleError(KaleErrorCode.PYTHON, `'${python}' did not run (exit ${String(code)})`)
  return out.trim() === '' ? python : out.trim()
}
