import proxyaddr from 'proxy-addr';

/** Whether the peer at `address`, `hop` proxies away from us, may tell the client's address (Express's `trust proxy`). */
export type TrustProxy = (address: string, hop: number) => boolean;

/**
 * Reads TRUST_PROXY: empty or `false`, `true`, a hop count, or a comma-separated list of addresses, subnets or
 * `loopback` / `linklocal` / `uniquelocal`. Compiled once, for Express and for the Socket.IO handshake alike.
 * Throws on an address or subnet it cannot read, so a typo stops the process at start-up.
 */
export function parseTrustProxy(value: string): TrustProxy {
  const trimmed = value.trim();
  if (trimmed === '' || trimmed === 'false') return () => false;
  if (trimmed === 'true') return () => true;
  if (/^\d+$/.test(trimmed)) {
    const hops = Number(trimmed);
    return (_address, hop) => hop < hops;
  }
  return proxyaddr.compile(
    trimmed
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean),
  );
}
