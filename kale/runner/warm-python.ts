/**
 * Launching step processes. `spawnStep` starts `python3 -u SCRIPT` afresh; a
 * `WarmPython` (python/warm.py) is one interpreter per run that has imported the
 * pipeline's imports once and forks a child per step. Either way a step is its own
 * process with its own stdout, stderr and exit status, so the runner treats them alike.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough, type Readable } from 'node:stream'
import { createInterface } from 'node:readline'
import { KaleErrorCode, kaleError } from '../errors.ts'
import { PYTHON_DIR } from '../python.ts'

export interface StepExit {
  /** Exit code, or null when a signal ended the process. */
  code: number | null
  signal: NodeJS.Signals | number | null
}

export interface LaunchedStep {
  stdout: Readable
  stderr: Readable
  /** Settles once the process has exited and both its streams have ended. */
  done: Promise<StepExit>
  kill: (signal: NodeJS.Signals) => void
}

export interface LaunchRequest {
  script: string
  args: string[]
  cwd: string
  /**
   * Offer the step's successor a fork of this step's process once its own code has run
   * (warm interpreter only; see python/warm.py). Called at most once, while the step
   * waits: launch the successor with `fork`, or `decline()`.
   */
  onHandoff?: (fork: Handoff) => void
}

export interface Handoff {
  /** Fork the successor from the waiting step; it inherits the values it loads. */
  fork: StepLauncher
  decline: () => void
}

export interface StepLauncher {
  (req: LaunchRequest): Promise<LaunchedStep>
  /** The interpreter's real executable, when the launcher already knows it (see resolvePython). */
  executable?: string
}

/** A fresh `python3 -u SCRIPT ARGS` for one step. */
export function spawnStep (python: string, env: NodeJS.ProcessEnv): StepLauncher {
  return async req => {
    const child = spawn(python, ['-u', req.script, ...req.args], {
      cwd: req.cwd,
      env: { ...env, PYTHONUNBUFFERED: '1' },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve)
      child.once('error', reject)
    })
    child.on('error', () => {}) // e.g. a kill that fails: the exit still settles `done`
    return {
      stdout: child.stdout,
      stderr: child.stderr,
      done: new Promise(resolve => child.on('close', (code, signal) => resolve({ code, signal }))),
      kill: signal => { child.kill(signal) }
    }
  }
}

export interface WarmPythonOptions {
  python: string
  cwd: string
  env: NodeJS.ProcessEnv
  /** Code whose top-level imports are imported once (the imports and functions cells). */
  prelude: string[]
}

interface Pending {
  onHandoff?: LaunchRequest['onHandoff']
  stdout: PassThrough
  stderr: PassThrough
  started: { resolve: (pid: number) => void, reject: (err: Error) => void }
  exited: { resolve: (e: StepExit) => void, reject: (err: Error) => void }
  exit: Promise<StepExit>
  connected: number
  exitKnown: boolean
}

type Reply =
  | { op: 'warmed', failed: string[], executable: string }
  | { op: 'started', id: string, pid: number }
  | { op: 'error', id: string, message: string }
  | { op: 'exit', id: string, code: number | null, signal: number | null }

/** One warm interpreter for a run; `launch` forks a step from it. Close it when the run ends. */
export class WarmPython {
  private readonly pending = new Map<string, Pending>()
  private nextId = 0
  private closed: Error | undefined
  private readonly server: Server
  private readonly dir: string
  private readonly child: ReturnType<typeof spawn>

  private constructor (server: Server, dir: string, child: ReturnType<typeof spawn>) {
    this.server = server
    this.dir = dir
    this.child = child
  }

  static async start (o: WarmPythonOptions): Promise<WarmPython> {
    // A short private path: Unix socket paths are limited to about 100 bytes.
    const dir = await mkdtemp(join(tmpdir(), 'kale-'))
    const socketPath = join(dir, 'out.sock')
    const server = createServer()
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(socketPath, resolve) })
    const child = spawn(o.python, ['-u', PYTHON_DIR + 'warm.py', socketPath], {
      cwd: o.cwd,
      env: { ...o.env, PYTHONUNBUFFERED: '1' },
      stdio: ['pipe', 'pipe', 'pipe']
    })
    const warm = new WarmPython(server, dir, child)
    server.on('connection', socket => { warm.accept(socket) })
    let stderr = ''
    child.stderr!.on('data', (b: Buffer) => { if (stderr.length < 8192) stderr += b.toString() })
    child.stdin!.on('error', () => {})
    let warmed: ((executable: string) => void) | undefined
    const ready = new Promise<string>(resolve => { warmed = resolve })
    createInterface({ input: child.stdout! }).on('line', line => {
      const reply = JSON.parse(line) as Reply
      if (reply.op === 'warmed') warmed?.(reply.executable)
      else warm.onReply(reply)
    })
    const gone = new Promise<never>((_resolve, reject) => {
      child.on('error', err => { reject(err) })
      child.on('close', code => {
        const err = kaleError(KaleErrorCode.PYTHON, `the warm Python interpreter exited (code ${String(code)})${stderr === '' ? '' : `: ${stderr.trim().split('\n').slice(-3).join(' / ')}`}`)
        warm.fail(err)
        reject(err)
      })
    })
    gone.catch(() => {})
    child.stdin!.write(JSON.stringify({ op: 'warm', sources: o.prelude }) + '\n')
    try {
      const executable = await Promise.race([ready, gone])
      if (executable !== '') warm.launch.executable = executable
    } catch (cause) {
      await warm.close()
      throw kaleError(KaleErrorCode.PYTHON, `cannot start a warm '${o.python}' for the steps (--fresh-python starts each step on its own): ${(cause as Error).message}`, { cause })
    }
    return warm
  }

  readonly launch: StepLauncher = async req => {
    return await this.start(req, (id, message) => { this.child.stdin!.write(JSON.stringify({ op: 'run', ...message }) + '\n') })
  }

  /** Register a step, have `send` ask for its fork, and wait until it runs. */
  private async start (req: LaunchRequest, send: (id: string, message: object) => void): Promise<LaunchedStep> {
    if (this.closed !== undefined) throw this.closed
    const id = String(this.nextId++)
    let started!: Pending['started']
    let exited!: Pending['exited']
    const pid = new Promise<number>((resolve, reject) => { started = { resolve, reject } })
    const exit = new Promise<StepExit>((resolve, reject) => { exited = { resolve, reject } })
    exit.catch(() => {})
    const p: Pending = { onHandoff: req.onHandoff, stdout: new PassThrough(), stderr: new PassThrough(), started, exited, exit, connected: 0, exitKnown: false }
    this.pending.set(id, p)
    send(id, { id, script: req.script, args: req.args, cwd: req.cwd, ...(req.onHandoff !== undefined ? { handoff: true } : {}) })
    let childPid: number
    try {
      childPid = await pid
    } catch (err) {
      this.pending.delete(id)
      throw err
    }
    const streamEnd = (s: Readable): Promise<void> => new Promise(resolve => { if (s.readableEnded) resolve(); else s.once('end', resolve).once('close', resolve) })
    return {
      stdout: p.stdout,
      stderr: p.stderr,
      done: Promise.all([exit, streamEnd(p.stdout), streamEnd(p.stderr)]).then(([e]) => e),
      kill: signal => { try { process.kill(childPid, signal) } catch { /* already gone */ } }
    }
  }

  /** A step's stdout or stderr connecting: its first line says whose and which. */
  private accept (socket: Socket): void {
    let head = Buffer.alloc(0)
    const onData = (b: Buffer): void => {
      head = Buffer.concat([head, b])
      const nl = head.indexOf(10)
      if (nl < 0) { if (head.length > 64) socket.destroy(); return }
      socket.off('data', onData)
      const [id, fd] = head.subarray(0, nl).toString().split(' ')
      const p = this.pending.get(id)
      if (p === undefined) { socket.destroy(); return }
      if (fd === '3') { this.handoff(p, socket); return }
      const target = fd === '1' ? p.stdout : p.stderr
      // The step may have exited before its streams were accepted: forget it only once
      // both are attached and its exit is known.
      if (++p.connected === 2 && p.exitKnown) this.pending.delete(id)
      const rest = head.subarray(nl + 1)
      if (rest.length > 0) target.write(rest)
      socket.pipe(target)
      socket.on('error', () => { target.end() })
    }
    socket.on('data', onData)
  }

  /** A step offering its successor a fork of itself: it waits on `socket` for one request. */
  private handoff (p: Pending, socket: Socket): void {
    const offer = p.onHandoff
    p.onHandoff = undefined
    socket.on('error', () => {})
    let used = false
    const decline = (): void => { used = true; socket.end() }
    if (offer === undefined) { decline(); return }
    const fork: StepLauncher = async req => {
      if (used) throw kaleError(KaleErrorCode.PYTHON, 'a step hands off to one successor only')
      used = true
      return await this.start(req, (id, message) => {
        const answer = createInterface({ input: socket })
        let answered = false
        const pending = (): Pending | undefined => this.pending.get(id)
        answer.once('line', line => {
          answered = true
          socket.end()
          const reply = JSON.parse(line) as { pid?: number, error?: string }
          if (reply.pid === undefined) { pending()?.started.reject(kaleError(KaleErrorCode.PYTHON, reply.error ?? 'the step before could not fork this one')); return }
          // Its exit reaches the warm interpreter (the subreaper) once the step before is gone.
          this.child.stdin!.write(JSON.stringify({ op: 'adopt', id, pid: reply.pid }) + '\n')
          pending()?.started.resolve(reply.pid)
        })
        socket.once('close', () => { if (!answered) pending()?.started.reject(kaleError(KaleErrorCode.PYTHON, 'the step before ended before it forked this one')) })
        socket.write(JSON.stringify(message) + '\n')
      })
    }
    offer({ fork, decline })
  }

  private onReply (reply: Exclude<Reply, { op: 'warmed' }>): void {
    const p = this.pending.get(reply.id)
    if (p === undefined) return
    if (reply.op === 'started') p.started.resolve(reply.pid)
    else if (reply.op === 'error') {
      this.pending.delete(reply.id)
      p.started.reject(kaleError(KaleErrorCode.PYTHON, reply.message))
    } else {
      p.exitKnown = true
      if (p.connected === 2) this.pending.delete(reply.id)
      p.exited.resolve({ code: reply.code, signal: reply.signal })
    }
  }

  private fail (err: Error): void {
    this.closed ??= err
    for (const [id, p] of this.pending) {
      this.pending.delete(id)
      p.started.reject(err)
      p.exited.reject(err)
      if (p.connected < 2) { p.stdout.end(); p.stderr.end() }
    }
  }

  /** End the interpreter (it kills any step still running) and remove its socket. */
  async close (): Promise<void> {
    this.closed ??= kaleError(KaleErrorCode.PYTHON, 'the warm Python interpreter was closed')
    const exited = this.child.exitCode !== null || this.child.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>(resolve => this.child.once('close', () => { resolve() }))
    this.child.stdin?.end()
    const timer = setTimeout(() => { this.child.kill('SIGKILL') }, 5000)
    await exited
    clearTimeout(timer)
    await new Promise<void>(resolve => this.server.close(() => { resolve() }))
    await rm(this.dir, { recursive: true, force: true })
  }
}
