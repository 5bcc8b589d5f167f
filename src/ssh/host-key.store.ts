/**
 * Where pinned host keys are kept. SshPool pins the first key a server presents (trust on first use); the servers
 * feature, which owns the servers table, provides the implementation.
 */
export abstract class HostKeyStore {
  /** Pins the first key seen; a key pinned meanwhile by another connection is left alone. */
  abstract pinIfUnset(serverId: number, fingerprint: string): Promise<void>;
}
