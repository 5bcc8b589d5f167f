import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';

/** Express's `trust proxy`: off, every hop, a number of hops, or the proxies' addresses, subnets or `loopback` etc. */
export type TrustProxySetting = boolean | number | string[];

/** Reads TRUST_PROXY: empty or `false`, `true`, a hop count, or a comma-separated list ("loopback, 10.0.0.0/8"). */
export function parseTrustProxy(value: string): TrustProxySetting {
  const trimmed = value.trim();
  if (trimmed === '' || trimmed === 'false') return false;
  if (trimmed === 'true') return true;
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const proxies = trimmed.split(',').map((entry) => entry.trim()).filter(Boolean);
  // Throws on an address or subnet it cannot read, so a typo stops the process at start-up.
  proxyaddr.compile(proxies);
  return proxies;
}

/**
 * The client's address behind the trusted proxies, as Express computes `req.ip`; for requests Express does not
 * see (the Socket.IO handshake).
 */
export function clientAddress(request: IncomingMessage, setting: TrustProxySetting): string {
  return proxyaddr(request, trustFunction(setting));
}

function trustFunction(setting: TrustProxySetting): (address: string, hop: number) => boolean {
  if (typeof setting === 'boolean') return () => setting;
  if (typeof setting === 'number') return (_address, hop) => hop < setting;
  return proxyaddr.compile(setting);
}
