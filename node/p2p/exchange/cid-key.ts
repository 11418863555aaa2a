/**
 * Map keys for CIDs on the hot path. `cid.toString()` base32-encodes on every call for a
 * CID decoded off the wire (~25 µs); a latin1 string of the CID's bytes is a copy.
 */
export function cidKey (cidBytes: Uint8Array): string {
  return Buffer.from(cidBytes.buffer, cidBytes.byteOffset, cidBytes.byteLength).toString('latin1')
}
