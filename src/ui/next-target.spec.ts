import { NEXT_TARGET_MAX_LENGTH, normalisedOrigins, safeNextTarget, signInLocation } from './next-target';

const OWN = 'http://localhost:5000';
const ALLOWED = normalisedOrigins(['http://localhost:8080', 'http://127.0.0.1:8080/', '*']);
const check = (raw: unknown) => safeNextTarget(raw, OWN, ALLOWED);

describe('safeNextTarget', () => {
  it('keeps paths on this backend, with their query and fragment', () => {
    expect(check('/')).toBe('/');
    expect(check('/servers?tab=gpu#top')).toBe('/servers?tab=gpu#top');
    expect(check('/a/../b')).toBe('/b');
  });

  it('keeps URLs on its own origin and on CORS_ORIGINS', () => {
    expect(check('http://localhost:5000/servers')).toBe('http://localhost:5000/servers');
    expect(check('http://localhost:8080/')).toBe('http://localhost:8080/');
    expect(check('http://127.0.0.1:8080/tasks?id=1')).toBe('http://127.0.0.1:8080/tasks?id=1');
  });

  it.each([
    ['another host', 'http://evil.example/'],
    ['a protocol-relative URL', '//evil.example/'],
    ['a backslash that browsers read as a slash', '/\\evil.example'],
    ['backslashes only', '\\\\evil.example'],
    ['a tab browsers drop', '/\t/evil.example'],
    ['a newline', '/x\n'],
    ['a javascript: URL', 'javascript:alert(1)'],
    ['a data: URL', 'data:text/html,<script>alert(1)</script>'],
    ['a same-origin URL with credentials', 'http://user:pw@localhost:5000/'],
    ['an allowed host on another port', 'http://localhost:8081/'],
    ['an allowed host over another scheme', 'https://localhost:8080/'],
    ['an allowed origin as a user name', 'http://localhost:8080@evil.example/'],
    ['a relative path without a slash', 'evil.example'],
    ['`*` of CORS_ORIGINS', 'http://anything.example/'],
    ['an empty string', ''],
    ['a repeated parameter (an array)', ['/a', '/b']],
    ['no value', undefined],
  ])('refuses %s', (_what, raw) => {
    expect(check(raw)).toBeUndefined();
  });

  it('refuses targets longer than the limit', () => {
    expect(check(`/${'a'.repeat(NEXT_TARGET_MAX_LENGTH - 1)}`)).toBeDefined();
    expect(check(`/${'a'.repeat(NEXT_TARGET_MAX_LENGTH)}`)).toBeUndefined();
  });

  it('never returns markup unescaped: a quote or bracket stays percent-encoded in the path', () => {
    expect(check('/"><script>alert(1)</script>')).toBe('/%22%3E%3Cscript%3Ealert(1)%3C/script%3E');
  });
});

describe('signInLocation', () => {
  it('carries the target as one encoded parameter', () => {
    expect(signInLocation(undefined)).toBe('/login');
    expect(signInLocation('/servers?tab=gpu&x=1')).toBe('/login?next=%2Fservers%3Ftab%3Dgpu%26x%3D1');
  });
});
