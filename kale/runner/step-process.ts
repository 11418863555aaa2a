/**
 * One step as one python3 process: output streamed line by line (tracebacks rewritten
 * to notebook cells), a copy in the step's log file, and the tail of stderr kept to
 * explain a failure.
 */
import { spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { STDERR_TAIL_BYTES } from '../constants.ts'
import type { LineOrigin } from '../codegen/step.ts'
import { tracebackMapper, type MappedFrame } from './traceback.ts'

export interface StepProcessOptions {
  python: string
  script: string
  args: string[]
  cwd: string
  env: NodeJS.ProcessEnv
  logFile: string
  lineMap: Array<LineOrigin | null>
  sourceName: string
  onLine: (stream: 'stdout' | 'stderr', line: string) => void
  signal?: AbortSignal
}

export interface StepProcessResult {
  exitCode: number | null
  /** Last lines of stderr, tracebacks already mapped. */
  stderrTail: string
  failedAt?: MappedFrame
}

export async function runStepProcess (o: StepProcessOptions): Promise<StepProcessResult> {
  const child = spawn(o.python, ['-u', o.script, ...o.args], {
    cwd: o.cwd,
    env: { ...o.env, PYTHONUNBUFFERED: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    signal: o.signal
  })
  const log = createWriteStream(o.logFile)
  const mapper = tracebackMapper(o.script, o.lineMap, o.sourceName)
  let tail = ''
  const pump = async (stream: 'stdout' | 'stderr', input: NodeJS.ReadableStream): Promise<void> => {
    for await (const raw of createInterface({ input, crlfDelay: Infinity })) {
      const line = stream === 'stderr' ? mapper.line(raw) : raw
      log.write(line + '\n')
      if (stream === 'stderr') {
        tail += line + '\n'
        if (tail.length > STDERR_TAIL_BYTES) tail = tail.slice(-STDERR_TAIL_BYTES)
      }
      o.onLine(stream, line)
    }
  }
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', code => resolve(code))
  })
  const [exitCode] = await Promise.all([exited, pump('stdout', child.stdout), pump('stderr', child.stderr)])
  await new Promise<void>(resolve => log.end(resolve))
  return { exitCode, stderrTail: tail, failedAt: mapper.lastFrame() }
}
