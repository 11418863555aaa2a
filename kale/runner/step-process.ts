/**
 * One step as one python3 process (started fresh or forked from the run's warm
 * interpreter, see warm-python.ts): output streamed line by line (tracebacks rewritten
 * to notebook cells), a copy in the step's log file, and the tail of stderr kept to
 * explain a failure.
 */
import { createWriteStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { STDERR_TAIL_BYTES } from '../constants.ts'
import type { LineOrigin } from '../codegen/step.ts'
import { tracebackMapper, type MappedFrame } from './traceback.ts'
import type { LaunchRequest, StepLauncher } from './warm-python.ts'

export interface StepProcessOptions {
  launch: StepLauncher
  /** See LaunchRequest.onHandoff. */
  onHandoff?: LaunchRequest['onHandoff']
  script: string
  args: string[]
  cwd: string
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
  o.signal?.throwIfAborted()
  const child = await o.launch({ script: o.script, args: o.args, cwd: o.cwd, onHandoff: o.onHandoff })
  const stop = (): void => { child.kill('SIGTERM') }
  o.signal?.addEventListener('abort', stop, { once: true })
  if (o.signal?.aborted === true) stop()
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
  try {
    const [exit] = await Promise.all([child.done, pump('stdout', child.stdout), pump('stderr', child.stderr)])
    o.signal?.throwIfAborted()
    return { exitCode: exit.code, stderrTail: tail, failedAt: mapper.lastFrame() }
  } finally {
    o.signal?.removeEventListener('abort', stop)
    await new Promise<void>(resolve => log.end(resolve))
  }
}
