import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';
import { parseTrustProxy } from './trust-proxy';

/** A request from `remote` that went through the proxies in X-Forwarded-For. */
const requestFrom = (remote: string, forwardedFor?: string) =>
  ({
    socket: { remoteAddress: remote },
    connection: { remoteAddress: remote },
    headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {},
  }) as unknown as IncomingMessage;
/** The client's address as Express and the Socket.IO handshake compute it under TRUST_PROXY=`setting`. */
const clientAddress = (request: IncomingMessage, setting: string) => proxyaddr(request, parseTrustProxy(setting));

describe('TRUST_PROXY', () => {
  it('reads off, every hop, a hop count and a list of proxies', () => {
    expect(parseTrustProxy('')('127.0.0.1', 0)).toBe(false);
    expect(parseTrustProxy('false')('127.0.0.1', 0)).toBe(false);
    expect(parseTrustProxy('true')('198.51.100.2', 5)).toBe(true);
    expect([0, 1].map((hop) => parseTrustProxy('1')('198.51.100.2', hop))).toEqual([true, false]);
    const list = parseTrustProxy(' loopback, 10.0.0.0/8 ');
    expect(['127.0.0.1', '10.1.2.3', '198.51.100.2'].map((address) => list(address, 0))).toEqual([true, true, false]);
  });

  it('refuses an address it cannot read', () => {
    expect(() => parseTrustProxy('10.0.0.300')).toThrow();
    expect(() => parseTrustProxy('nginx')).toThrow();
  });

  it('believes X-Forwarded-For only from a trusted proxy', () => {
    const viaLoopback = requestFrom('127.0.0.1', '203.0.113.7');
    expect(clientAddress(viaLoopback, 'false')).toBe('127.0.0.1');
    expect(clientAddress(viaLoopback, 'loopback')).toBe('203.0.113.7');
    expect(clientAddress(viaLoopback, '1')).toBe('203.0.113.7');
    expect(clientAddress(requestFrom('198.51.100.2', '203.0.113.7'), 'loopback')).toBe('198.51.100.2');
    // A client cannot add hops of its own beyond the ones trusted.
    expect(clientAddress(requestFrom('127.0.0.1', '6.6.6.6, 203.0.113.7'), 'loopback')).toBe('203.0.113.7');
  });
});
