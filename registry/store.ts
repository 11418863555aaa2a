/**
 * The registry's durable store: one `level` database split into sublevels, one per kind
 * of record. Every change to registry state goes through `write`, one atomic batch, so a
 * request either changes everything it meant to or nothing; `mutations` counts those
 * batches, which is how tests prove a rejected request changed nothing.
 */
import { Level } from 'level'
import type { AbstractSublevel } from 'abstract-level'

export type Json = any

export interface StoreOp {
  type: 'put' | 'del'
  space: Space
  key: string
  value?: Json
}

export const SPACES = ['meta', 'users', 'tokens', 'groups', 'buckets', 'versions', 'nodes', 'providers', 'policy', 'audit'] as const
export type Space = typeof SPACES[number]

type Sub = AbstractSublevel<Level<string, Json>, string | Buffer | Uint8Array, string, Json>

export class RegistryStore {
  readonly db: Level<string, Json>
  private readonly spaces: Map<Space, Sub>
  /** Number of state-changing batches written since open. */
  mutations = 0

  private constructor (db: Level<string, Json>) {
    this.db = db
    this.spaces = new Map(SPACES.map(s => [s, db.sublevel<string, Json>(s, { valueEncoding: 'json' })]))
  }

  static async open (path: string): Promise<RegistryStore> {
    const db = new Level<string, Json>(path, { valueEncoding: 'json' })
    await db.open()
    return new RegistryStore(db)
  }

  private space (s: Space): Sub {
    return this.spaces.get(s)!
  }

  async get (space: Space, key: string): Promise<Json | undefined> {
    return await this.space(space).get(key)
  }

  async * entries (space: Space, range: { gte?: string, lt?: string, reverse?: boolean, limit?: number } = {}): AsyncGenerator<[string, Json]> {
    for await (const entry of this.space(space).iterator(range)) yield entry
  }

  /** Apply `ops` atomically. */
  async write (ops: StoreOp[]): Promise<void> {
    if (ops.length === 0) return
    await this.db.batch(ops.map(op => op.type === 'put'
      ? { type: 'put' as const, sublevel: this.space(op.space), key: op.key, value: op.value }
      : { type: 'del' as const, sublevel: this.space(op.space), key: op.key }) as any)
    this.mutations++
  }

  /** Bookkeeping that is not registry state (a token's last use): not counted as a mutation. */
  async touch (space: Space, key: string, value: Json): Promise<void> {
    await this.space(space).put(key, value)
  }

  async close (): Promise<void> {
    await this.db.close()
  }
}
