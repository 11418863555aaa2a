/** WANT (server side): queue the entries; ServerStream bounds how many a peer may have pending. */
import type { WantEntry } from '../../../../protocol/exchange.ts'
import type { ServerStream } from '../server.ts'

export function handleWant (server: ServerStream, entries: WantEntry[]): void {
  server.enqueue(entries)
}
