import { maskSecrets } from './secrets';

describe('maskSecrets', () => {
  it('masks secret fields at any depth and leaves the rest alone', () => {
    const masked = maskSecrets({
      name: 'gpu-1',
      password: 'hunter2',
      nested: [{ private_key: '-----BEGIN', Passphrase: 'p', port: 22 }],
      current_password: 'old-one',
      new_password: 'new-one',
      access_token: 'eyJhbGci',
      token_type: 'Bearer',
    });
    expect(masked).toEqual({
      name: 'gpu-1',
      password: '***',
      nested: [{ private_key: '***', Passphrase: '***', port: 22 }],
      current_password: '***',
      new_password: '***',
      access_token: '***',
      token_type: 'Bearer',
    });
    expect(JSON.stringify(masked)).not.toMatch(/hunter2|BEGIN|old-one|new-one|eyJhbGci/);
  });
});
