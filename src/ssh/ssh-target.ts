/** Everything needed to reach one server over SSH; secrets already decrypted, held only in memory. */
export interface SshTarget {
  serverId: number;
  host: string;
  port: number;
  username: string;
  password?: string | null;
  privateKey?: string | null;
  passphrase?: string | null;
  /** The pinned host key (`SHA256:…`), or null to trust the first key seen. */
  hostKeyFingerprint: string | null;
}

export type SshFailure = 'unreachable' | 'timeout' | 'auth' | 'host_key' | 'key' | 'channel' | 'protocol';

/** An SSH failure with a message fit for users: names the host, never a secret. */
export class SshError extends Error {
  constructor(
    readonly kind: SshFailure,
    message: string,
  ) {
    super(message);
    this.name = 'SshError';
  }
}
