/**
 * CANCEL (server side): forget wants not yet served. A want already being served is
 * answered anyway; the client ignores answers to wants it cancelled.
 */
import type { CID } from '../../../../protocol/cid.ts'
import type { ServerStream } from '../server.ts'

export function handleCancel (server: ServerStream, cids: CID[]): void {
  server.cancel(cids)
}
