import { isBackendPath, isCrossSite, wantsHtml } from './ui-requests';

describe('wantsHtml', () => {
  it('is true for what browsers send when navigating', () => {
    expect(wantsHtml('text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8')).toBe(true);
    expect(wantsHtml('TEXT/HTML')).toBe(true);
  });

  it('is false for API clients, scripts and images, which accept anything or something else', () => {
    expect(wantsHtml(undefined)).toBe(false);
    expect(wantsHtml('*/*')).toBe(false);
    expect(wantsHtml('application/json, text/plain, */*')).toBe(false);
    expect(wantsHtml('image/avif,image/webp,*/*;q=0.8')).toBe(false);
  });

  it('is false when HTML is explicitly refused', () => {
    expect(wantsHtml('text/html;q=0, application/json')).toBe(false);
    expect(wantsHtml('text/html; q=0.000')).toBe(false);
    expect(wantsHtml('text/html; q=0.1')).toBe(true);
  });
});

describe('isBackendPath', () => {
  it.each(['/api', '/api/servers', '/API/servers', '/socket.io/socket.io.js', '/v1/chat/completions', '/metrics'])('%s is the backend', (path) => {
    expect(isBackendPath(path)).toBe(true);
  });

  it.each(['/', '/servers', '/apis', '/metrics-board', '/v10', '/assets/api.js'])('%s is the UI', (path) => {
    expect(isBackendPath(path)).toBe(false);
  });
});

describe('isCrossSite', () => {
  it('is true only for what browsers mark as sent by another site', () => {
    expect(isCrossSite({ 'sec-fetch-site': 'cross-site' })).toBe(true);
    for (const site of ['same-origin', 'same-site', 'none']) expect(isCrossSite({ 'sec-fetch-site': site })).toBe(false);
    expect(isCrossSite({})).toBe(false);
  });
});
