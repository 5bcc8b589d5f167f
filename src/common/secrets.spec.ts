import { maskSecrets } from './secrets';

describe('maskSecrets', () => {
  it('masks secret fields at any depth and leaves the rest alone', () => {
    const masked = maskSecrets({
      name: 'gpu-1',
      password: 'hunter2',
      nested: [{ private_key: '-----BEGIN', Passphrase: 'p', port: 22 }],
    });
    expect(masked).toEqual({ name: 'gpu-1', password: '***', nested: [{ private_key: '***', Passphrase: '***', port: 22 }] });
    expect(JSON.stringify(masked)).not.toMatch(/hunter2|BEGIN/);
  });
});
