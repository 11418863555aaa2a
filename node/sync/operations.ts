/** The sync service's operations in the JSON shapes of the node API (protocol/node-api.ts). */
import type { SyncOperations } from '../../protocol/node-api.ts'
import type { SyncService } from './service.ts'

export function syncOperations (service: SyncService, now: () => number = Date.now): SyncOperations {
  return {
    async publish (body, options = {}) {
      return await service.publish(body, {
        signal: options.signal,
        onProgress: options.onProgress === undefined ? undefined : p => options.onProgress!({ bytes: p.bytes, total: p.total, files: p.files })
      })
    },
    async subscribe (body) { return await service.subscribe(body.bucket, body.peer, now()) },
    async unsubscribe (bucket) { return await service.unsubscribe(bucket) },
    async sync (body, options = {}) {
      return await service.syncNow(body.bucket, {
        signal: options.signal,
        onProgress: options.onProgress === undefined
          ? undefined
          : e => { if (e.type === 'sync:batch:stored') options.onProgress!({ bytes: e.walkedBytes, total: e.size, blocks: e.chunks }) }
      })
    },
    async allow (body) { return await service.allow(body.bucket, body.peer) },
    async deny (body) { return await service.deny(body.bucket, body.peer) },
    async syncStatus () { return await service.status() }
  }
}
