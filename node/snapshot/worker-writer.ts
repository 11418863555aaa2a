/**
 * Restore's side of write-worker.ts: file operations go to a worker thread (their buffers
 * transferred, not copied; the ops of one turn of the event loop in one message) or, for
 * a restore too small to repay a thread, to the same handler in place. Writes need not be
 * awaited: a file's first failure comes back with its close. At most MAX_IN_FLIGHT bytes
 * are queued for the worker; `room` waits for less.
 */
import { Worker } from 'node:worker_threads'
import { hash } from 'node:crypto'
import * as fs from 'node:fs'
import { fileWriter, writeWorkerMain, type FileOp, type OpResult, type ToWriter } from './write-worker.ts'

const WORKER_SOURCE = `'use strict'
const { parentPort } = require('node:worker_threads')
const fileWriter = ${fileWriter.toString()}
;(${writeWorkerMain.toString()})({ port: parentPort, fs: require('node:fs'), hash: require('node:crypto').hash, fileWriter })
`

/** Bytes handed to the worker and not yet written: bounds memory (two store batches and some). */
const MAX_IN_FLIGHT = 16 * 1024 * 1024

export interface FileWriter {
  /** Resolves once there is room to send more (see MAX_IN_FLIGHT). */
  room: () => Promise<void>
  /**
   * Send an op; resolves with its result once done. Callers await the ops that close a
   * file: a write's failure is reported by its file's close. Ops sent in one turn of the
   * event loop go together, so they may share a buffer.
   */
  send: (op: FileOp) => Promise<OpResult>
  /** Wait until everything sent is done, close files left open (a failed restore), stop. */
  close: () => Promise<void>
}

/** The handler on this thread: each op runs to its end before `send` returns. */
export function inPlaceWriter (): FileWriter {
  const writer = fileWriter({ fs, hash })
  return {
    room: async () => {},
    send: async op => writer.handle(op),
    close: async () => { writer.closeAll() }
  }
}

export function workerWriter (): FileWriter {
  const worker = new Worker(WORKER_SOURCE, { eval: true })
  // results come back in the order ops were sent
  const waiting: Array<{ resolve: (r: OpResult) => void, reject: (err: Error) => void }> = []
  let inFlight = 0
  let roomWaiters: Array<() => void> = []
  let failure: Error | undefined
  // ops sent in one turn of the event loop go as one message
  let queued: FileOp[] = []
  // each buffer once, though ops of one group may share it
  let transfer = new Set<ArrayBuffer>()
  const post = (): void => {
    if (queued.length === 0 || failure !== undefined) return
    worker.postMessage(queued satisfies ToWriter, [...transfer])
    queued = []
    transfer = new Set()
  }
  worker.on('message', (results: OpResult[]) => {
    for (const r of results) {
      inFlight -= r.bytes
      waiting.shift()?.resolve(r)
    }
    if (inFlight < MAX_IN_FLIGHT) { const w = roomWaiters; roomWaiters = []; for (const f of w) f() }
  })
  const fail = (err: Error): void => {
    failure ??= err
    for (const w of waiting.splice(0)) w.reject(err)
    const w = roomWaiters; roomWaiters = []; for (const f of w) f()
  }
  worker.on('error', fail)
  worker.on('exit', code => { fail(new Error(`the restore's writer thread exited (code ${code})`)) })

  const result = (): Promise<OpResult> => {
    if (failure !== undefined) return Promise.reject(failure)
    return new Promise<OpResult>((resolve, reject) => { waiting.push({ resolve, reject }) })
  }

  return {
    async room () {
      while (inFlight >= MAX_IN_FLIGHT && failure === undefined) await new Promise<void>(resolve => roomWaiters.push(resolve))
    },
    send (op) {
      const done = result()
      done.catch(() => {}) // a write's failure is also its file's: raised by the close
      if (failure !== undefined) return done
      if (queued.length === 0) setImmediate(post)
      queued.push(op)
      for (const b of op.write?.buffers ?? []) { transfer.add(b); inFlight += b.byteLength }
      return done
    },
    async close () {
      try {
        post()
        if (failure === undefined) {
          const done = result()
          worker.postMessage('shutdown' satisfies ToWriter)
          await done
        }
      } finally {
        worker.removeAllListeners('exit')
        await worker.terminate()
      }
    }
  }
}
