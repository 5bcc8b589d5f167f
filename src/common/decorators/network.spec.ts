import { isHost } from './network';

describe('isHost', () => {
  it.each(['gpu-01', 'gpu01.lab.example.com', '192.168.1.100', '127.0.0.1', '::1', 'fe80::1', '2001:db8::8a2e:370:7334', 'localhost'])(
    'accepts %s',
    (host) => expect(isHost(host)).toBe(true),
  );

  it.each([
    '',
    'http://gpu-01',
    'gpu-01:22',
    'gpu 01',
    'gpu;rm -rf /',
    '$(id)',
    '`id`',
    '-oProxyCommand=x',
    'a'.repeat(254),
    '256.1.1.1.1.1',
    'under_score',
    'gpu\u200b01',
    'gpu\u202e10',
    'gpu\u0007',
    'gpu\ud800',
    'gрu01',
    42,
    null,
  ])('refuses %p', (host) => expect(isHost(host)).toBe(false));
});
