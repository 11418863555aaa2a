/**
 * Everything the CLI prints goes through here: human text or one JSON document
 * (`--json`), progress bars only when stderr is a terminal, errors as one line.
 */
import { RokError } from '../../protocol/errors.ts'

export interface Output {
  json: boolean
  verbose: boolean
  /** Human-readable line on stdout (suppressed with --json). */
  line: (text?: string) => void
  /** The command's result: printed as JSON with --json, else via `human`. */
  result: (value: unknown, human?: (value: any) => void) => void
  /** A note on stderr (never pollutes --json stdout). */
  note: (text: string) => void
  progress: (label: string, total?: number) => ProgressBar
}

export interface ProgressBar {
  update: (done: number, total?: number) => void
  done: () => void
}

export interface OutputStreams {
  stdout: NodeJS.WritableStream & { isTTY?: boolean }
  stderr: NodeJS.WritableStream & { isTTY?: boolean, columns?: number }
}

export function createOutput (opts: { json: boolean, verbose: boolean }, streams: OutputStreams = process): Output {
  const { stdout, stderr } = streams
  return {
    json: opts.json,
    verbose: opts.verbose,
    line (text = '') { if (!opts.json) stdout.write(text + '\n') },
    result (value, human) {
      if (opts.json) stdout.write(JSON.stringify(value, jsonReplacer, 2) + '\n')
      else if (human) human(value)
      else stdout.write(String(value) + '\n')
    },
    note (text) { stderr.write(text + '\n') },
    progress (label, total) {
      if (stderr.isTTY !== true || opts.json) return { update () {}, done () {} }
      return terminalProgress(stderr, label, total)
    }
  }
}

function jsonReplacer (_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64')
  // A CID has already become {"/": "bafy…"} through its own toJSON; print the string.
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const link = (value as Record<string, unknown>)['/']
    if (typeof link === 'string' && Object.keys(value).length === 1) return link
  }
  return value
}

function terminalProgress (stream: OutputStreams['stderr'], label: string, initialTotal?: number): ProgressBar {
  const started = performance.now()
  let total = initialTotal
  let lastDraw = 0
  let lastDone = 0
  const draw = (done: number, final = false): void => {
    const now = performance.now()
    if (!final && now - lastDraw < 100) return
    lastDraw = now
    const secs = Math.max((now - started) / 1000, 0.001)
    const rate = done / secs
    const width = Math.max(10, Math.min(30, (stream.columns ?? 80) - 60))
    let bar = ''
    let eta = ''
    if (total !== undefined && total > 0) {
      const frac = Math.min(1, done / total)
      const filled = Math.round(frac * width)
      bar = '[' + '#'.repeat(filled) + '-'.repeat(width - filled) + '] ' + (frac * 100).toFixed(0).padStart(3) + '% '
      eta = rate > 0 && !final ? ` ETA ${formatDuration((total - done) / rate)}` : ''
    }
    const sizes = total !== undefined ? `${formatBytes(done)}/${formatBytes(total)}` : formatBytes(done)
    stream.write(`\r\x1b[K${label} ${bar}${sizes} ${formatBytes(rate)}/s${eta}`)
  }
  return {
    update (done, newTotal) {
      if (newTotal !== undefined) total = newTotal
      lastDone = done
      draw(done)
    },
    done () {
      draw(lastDone, true)
      stream.write('\n')
    }
  }
}

export function formatBytes (n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  let v = n
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return `${i === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`
}

export function formatDuration (seconds: number): string {
  if (!Number.isFinite(seconds)) return '?'
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)}s`
  const m = Math.floor(seconds / 60)
  const s = Math.round(seconds % 60)
  if (m < 60) return `${m}m${String(s).padStart(2, '0')}s`
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`
}

/**
 * One clear line for an error, its code in brackets so scripts and humans can act on it.
 * With `verbose`: then its details, the chain of causes (each with its code) and the
 * stack of the innermost one, where the bug or the failing system call is.
 */
export function describeError (err: unknown, verbose: boolean): string {
  const first = oneLine(err)
  if (!verbose) return first
  const lines = [first]
  if (err instanceof RokError && Object.keys(err.details).length > 0) lines.push(`  details: ${JSON.stringify(err.details)}`)
  let inner: unknown = err
  for (let depth = 0; depth < 8 && inner instanceof Error && inner.cause !== undefined; depth++) {
    inner = inner.cause
    lines.push(`  caused by: ${oneLine(inner, false)}`)
  }
  // the stack's frames only: its head repeats the message, which may span lines
  if (inner instanceof Error && inner.stack !== undefined) lines.push(...inner.stack.split('\n').filter(l => /^\s+at /.test(l)).map(l => `  ${l.trim()}`))
  return lines.join('\n')
}

/** What to do about the system errors users meet most, by errno code (Rok's own codes say it in their message). */
const SYSTEM_HINTS: Record<string, string> = {
  EADDRINUSE: 'another process listens there; stop it or choose another address (port 0 picks a free one)',
  EADDRNOTAVAIL: 'this machine has no such address; listen on one of its own or 0.0.0.0',
  EACCES: 'permission denied; run as a user who may, or choose another path or a port above 1023',
  EPERM: 'operation not permitted for this user',
  ENOSPC: 'the disk is full; free space and run it again',
  EROFS: 'the file system is read-only',
  EMFILE: 'too many open files; raise the limit (ulimit -n)',
  ENOTDIR: 'a part of the path is a file, not a folder',
  ECONNREFUSED: 'nothing listens at that address; is the service running?'
}

/**
 * `message [CODE]` on one line. A top-level error without a code is a bug, so it says how
 * to see more; a cause without one (a library's error) is shown by its name.
 */
function oneLine (err: unknown, top = true): string {
  if (!(err instanceof Error)) return `${String(err).replace(/\s*\n\s*/g, ' ')}${top ? ' [ERR_UNEXPECTED]' : ''}`
  const code = (err as NodeJS.ErrnoException).code
  const message = err.message.replace(/\s*\n\s*/g, ' ')
  if (typeof code === 'string') return `${message}${top && SYSTEM_HINTS[code] !== undefined ? `: ${SYSTEM_HINTS[code]}` : ''} [${code}]`
  return top ? `${message} [ERR_UNEXPECTED] (--verbose shows where)` : `${err.name}: ${message}`
}
