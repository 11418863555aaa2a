/**
 * The outbox: version references a publish could not record in the registry yet, kept in
 * the home's db (`registry-outbox` sublevel, key: a zero-padded sequence number, so
 * iteration is publish order) and delivered oldest first. An entry is removed only after
 * the registry recorded it; the registry answers a repeated record with what it has, so
 * a delivery retried after a crash is harmless (idempotent).
 */
import { RokError } from '../../protocol/errors.ts'
import type { KeyValue } from '../sync/kv.ts'
import { MAX_OUTBOX_ENTRIES } from './constants.ts'
import { RegistryLinkErrorCode } from './errors.ts'

export interface OutboxEntry {
  key: string
  bucket: string
  seq: number
  record: Uint8Array
  queuedAt: number
}

/** Records `record` in the registry; throws a RokError (ERR_REGISTRY_UNAVAILABLE when it cannot be reached). */
export type DeliverFn = (entry: OutboxEntry, signal: AbortSignal) => Promise<void>

export interface DeliveryReport {
  delivered: number
  pending: number
  /** The error that stopped delivery (the entry it stopped at stays first). */
  error?: { code: string, message: string, bucket: string, seq: number }
}

export class Outbox {
  private readonly kv: KeyValue
  private readonly max: number
  private next = 0
  private count = 0

  private constructor (kv: KeyValue, max: number) {
    this.kv = kv
    this.max = max
  }

  static async open (kv: KeyValue, max = MAX_OUTBOX_ENTRIES): Promise<Outbox> {
    const outbox = new Outbox(kv, max)
    for await (const [key] of kv.iterator()) {
      outbox.count++
      outbox.next = Math.max(outbox.next, Number(key) + 1)
    }
    return outbox
  }

  get pending (): number {
    return this.count
  }

  async add (bucket: string, seq: number, record: Uint8Array, now: number): Promise<OutboxEntry> {
    if (this.count >= this.max) {
      throw new RokError(RegistryLinkErrorCode.OUTBOX_FULL, `${this.count} version references already wait for the registry; the version is recorded locally but not queued`)
    }
    const key = String(this.next++).padStart(16, '0')
    await this.kv.put(key, JSON.stringify({ bucket, seq, record: Buffer.from(record).toString('base64'), queuedAt: now }), { sync: true })
    this.count++
    return { key, bucket, seq, record, queuedAt: now }
  }

  async oldest (): Promise<OutboxEntry | undefined> {
    for await (const [key, value] of this.kv.iterator({ limit: 1 })) return parse(key, value)
    return undefined
  }

  async list (limit = 100): Promise<OutboxEntry[]> {
    const out: OutboxEntry[] = []
    for await (const [key, value] of this.kv.iterator({ limit })) out.push(parse(key, value))
    return out
  }

  /** Deliver entries oldest first until the outbox is empty or one fails (it stays first). */
  async deliver (send: DeliverFn, signal: AbortSignal): Promise<DeliveryReport> {
    let delivered = 0
    for (;;) {
      signal.throwIfAborted()
      const entry = await this.oldest()
      if (entry === undefined) return { delivered, pending: 0 }
      try {
        await send(entry, signal)
      } catch (err) {
        signal.throwIfAborted()
        const e = err as RokError
        return { delivered, pending: this.count, error: { code: e.code ?? 'ERR_UNKNOWN', message: e.message, bucket: entry.bucket, seq: entry.seq } }
      }
      await this.kv.del(entry.key, { sync: true })
      this.count--
      delivered++
    }
  }
}

function parse (key: string, value: string): OutboxEntry {
  const v = JSON.parse(value) as { bucket: string, seq: number, record: string, queuedAt: number }
  return { key, bucket: v.bucket, seq: v.seq, record: new Uint8Array(Buffer.from(v.record, 'base64')), queuedAt: v.queuedAt }
}
