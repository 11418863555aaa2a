/**
 * Grants this node holds for the buckets it subscribed through the registry, persisted in
 * the home's db (`registry-grants` sublevel, key: bucket) so a restarted daemon still
 * presents them to peers while the registry is down. Renewed by the registry link.
 */
import { decodeGrant, type SignedGrant } from '../../protocol/grant.ts'
import type { KeyValue } from '../sync/kv.ts'

export interface HeldGrant {
  bucket: string
  bytes: Uint8Array
  grant: SignedGrant
  /** Why the last renewal failed (the grant still counts until it expires). */
  error?: { code: string, message: string }
}

export class HeldGrants {
  private readonly kv: KeyValue
  private readonly grants = new Map<string, HeldGrant>()

  private constructor (kv: KeyValue) {
    this.kv = kv
  }

  static async open (kv: KeyValue): Promise<HeldGrants> {
    const held = new HeldGrants(kv)
    for await (const [bucket, value] of kv.iterator()) {
      const bytes = new Uint8Array(Buffer.from(value, 'base64'))
      held.grants.set(bucket, { bucket, bytes, grant: decodeGrant(bytes) })
    }
    return held
  }

  async put (bucket: string, bytes: Uint8Array, grant: SignedGrant): Promise<void> {
    await this.kv.put(bucket, Buffer.from(bytes).toString('base64'), { sync: true })
    this.grants.set(bucket, { bucket, bytes, grant })
  }

  async delete (bucket: string): Promise<void> {
    await this.kv.del(bucket, { sync: true })
    this.grants.delete(bucket)
  }

  get (bucket: string): HeldGrant | undefined {
    return this.grants.get(bucket)
  }

  setError (bucket: string, error: { code: string, message: string } | undefined): void {
    const held = this.grants.get(bucket)
    if (held !== undefined) held.error = error
  }

  list (): HeldGrant[] {
    return [...this.grants.values()]
  }
}
