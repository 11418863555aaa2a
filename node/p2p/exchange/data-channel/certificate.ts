/**
 * The data channel's ephemeral server certificate: a fresh ECDSA P-256 key and a
 * self-signed certificate per node start. Nobody trusts it by a CA; a client trusts it
 * because its SHA-256 came over the authenticated libp2p stream (protocol/data-channel.ts).
 */
// @peculiar/x509's CommonJS build throws on load without this polyfill (as @libp2p/tls loads it too)
import 'reflect-metadata'
import { createHash, webcrypto } from 'node:crypto'
import * as x509 from '@peculiar/x509'

export interface DataCertificate {
  /** PEM, for tls.createServer. */
  cert: string
  key: string
  /** SHA-256 of the certificate's DER encoding. */
  fingerprint: Uint8Array
}

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
/** The certificate outlives any node run; the fingerprint pin is what is checked. */
const VALIDITY_MS = 365 * 24 * 3600 * 1000

export async function createDataCertificate (): Promise<DataCertificate> {
  const crypto = webcrypto as unknown as Crypto
  const keys = await crypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])
  const now = Date.now()
  const notAfter = new Date(now + VALIDITY_MS)
  notAfter.setMilliseconds(0)
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(crypto.getRandomValues(new Uint8Array(8))).toString('hex').replace(/^[89a-f]/, '1'),
    name: 'CN=rok-data-channel',
    notBefore: new Date(now - 3600 * 1000),
    notAfter,
    signingAlgorithm: ALGORITHM,
    keys
  }, crypto)
  const pkcs8 = Buffer.from(await crypto.subtle.exportKey('pkcs8', keys.privateKey))
  return {
    cert: cert.toString('pem'),
    key: `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/(.{64})/g, '$1\n').trimEnd()}\n-----END PRIVATE KEY-----\n`,
    fingerprint: fingerprintOf(Buffer.from(cert.rawData))
  }
}

/** SHA-256 of a certificate's DER bytes: what an offer pins. */
export function fingerprintOf (der: Uint8Array): Uint8Array {
  return createHash('sha256').update(der).digest()
}
