import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CredentialVault } from './credential-vault.service';

describe('CredentialVault', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'vault-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const vault = (encryptionKey?: string) => new CredentialVault({ encryptionKey, keyFile: join(dir, 'encryption.key') });

  it('round-trips a secret and never stores it in clear', () => {
    const v = vault('a'.repeat(64));
    const sealed = v.encrypt('hunter2 密码');
    expect(sealed).not.toContain('hunter2');
    expect(sealed).toMatch(/^v1:/);
    expect(v.decrypt(sealed)).toBe('hunter2 密码');
    expect(v.encrypt('hunter2')).not.toBe(v.encrypt('hunter2'));
  });

  it('refuses ciphertext that was tampered with or sealed with another key', () => {
    const sealed = vault('a'.repeat(64)).encrypt('secret');
    expect(() => vault('b'.repeat(64)).decrypt(sealed)).toThrow();
    const parts = sealed.split(':');
    parts[3] = Buffer.from('other').toString('base64');
    expect(() => vault('a'.repeat(64)).decrypt(parts.join(':'))).toThrow();
  });

  it('generates a key file once, with mode 0600, and later vaults use it', () => {
    const sealed = vault().encrypt('secret');
    const keyFile = join(dir, 'encryption.key');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(keyFile, 'utf8').trim()).toMatch(/^[0-9a-f]{64}$/);
    expect(vault().decrypt(sealed)).toBe('secret');
  });
});
