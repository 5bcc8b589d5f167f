import type { IncomingMessage } from 'node:http';
import { clientAddress, parseTrustProxy } from './trust-proxy';

/** A request from `remote` that went through the proxies in X-Forwarded-For. */
const requestFrom = (remote: string, forwardedFor?: string) =>
  ({ socket: { remoteAddress: remote }, connection: { remoteAddress: remote }, headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {} }) as unknown as IncomingMessage;

describe('TRUST_PROXY', () => {
  it('reads off, every hop, a hop count and a list of proxies', () => {
    expect(parseTrustProxy('')).toBe(false);
    expect(parseTrustProxy('false')).toBe(false);
    expect(parseTrustProxy('true')).toBe(true);
    expect(parseTrustProxy('1')).toBe(1);
    expect(parseTrustProxy(' loopback, 10.0.0.0/8 ')).toEqual(['loopback', '10.0.0.0/8']);
  });

  it('refuses an address it cannot read', () => {
    expect(() => parseTrustProxy('10.0.0.300')).toThrow();
    expect(() => parseTrustProxy('nginx')).toThrow();
  });

  it('believes X-Forwarded-For only from a trusted proxy', () => {
    const viaLoopback = requestFrom('127.0.0.1', '203.0.113.7');
    expect(clientAddress(viaLoopback, false)).toBe('127.0.0.1');
    expect(clientAddress(viaLoopback, ['loopback'])).toBe('203.0.113.7');
    expect(clientAddress(viaLoopback, 1)).toBe('203.0.113.7');
    expect(clientAddress(requestFrom('198.51.100.2', '203.0.113.7'), ['loopback'])).toBe('198.51.100.2');
    // A client cannot add hops of its own beyond the ones trusted.
    expect(clientAddress(requestFrom('127.0.0.1', '6.6.6.6, 203.0.113.7'), ['loopback'])).toBe('203.0.113.7');
  });
});
