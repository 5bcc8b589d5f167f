import { relayedStatus } from './model-server-proxy.service';

describe('relayedStatus', () => {
  it.each([400, 409, 413, 422, 429])("keeps the caller's own fault %p", (status) => {
    expect(relayedStatus(status)).toBe(status);
  });

  // The model server's credentials or path, a redirect, its own failure, or nonsense: the proxy's fault, not the caller's.
  it.each([401, 403, 404, 301, 302, 500, 502, 503, 504, 600, 199])('turns %p into 502', (status) => {
    expect(relayedStatus(status)).toBe(502);
  });
});
