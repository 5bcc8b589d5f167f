import { maskForLog, maskSecrets, maskUrlForLog } from './secrets';

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

describe('what reaches the log', () => {
  it('masks fields whose names only look secret, as refused bodies carry them', () => {
    const masked = maskForLog({ name: 'gpu-1', pass_word: 'c1', pwd: 'c2', key: 'c3', private_key_pem: 'c4', nested: { api_key: 'c5', port: 22 } });
    expect(masked).toEqual({ name: 'gpu-1', pass_word: '***', pwd: '***', key: '***', private_key_pem: '***', nested: { api_key: '***', port: 22 } });
  });

  it('masks query values named like secrets or shaped like tokens, and leaves other URLs as they are', () => {
    expect(maskUrlForLog('/api/servers?token=c1&page=2&API_KEY=c2&t=ist_c3')).toBe('/api/servers?token=***&page=2&API_KEY=***&t=***');
    expect(maskUrlForLog('/api/audit?user=admin&page=2')).toBe('/api/audit?user=admin&page=2');
    expect(maskUrlForLog('/api/brands')).toBe('/api/brands');
  });
});
