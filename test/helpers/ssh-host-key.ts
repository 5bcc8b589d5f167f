import { generateKeyPairSync } from 'node:crypto';

/**
 * A fresh host key for an ssh2 `Server`: ECDSA P-256 as SEC1 PEM, made by Node's crypto. Not ssh2's own
 * `utils.generateKeyPairSync('ed25519')`: it strips leading zero bytes from the public key, so about one key in 256
 * comes out unparseable ("Malformed OpenSSH private key", mscdex/ssh2#1390) and fails the suite that drew it.
 */
export function generateHostKey(): string {
  return generateKeyPairSync('ec', {
    namedCurve: 'prime256v1',
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'sec1', format: 'pem' },
  }).privateKey;
}
