import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { secretsConfig, SecretsConfig } from '../config/configuration';
import { loadOrCreateSecretFile } from './secret-file';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Encrypts server secrets at rest with AES-256-GCM. The key comes from ENCRYPTION_KEY or, when that is
 * unset, from a key file generated once in DATA_DIR (mode 0600) at first start, so that a backup taken right after
 * it holds the key, and a bad ENCRYPTION_KEY stops the start rather than the first server created.
 * Ciphertext format: `v1:<iv>:<tag>:<data>`, each part base64.
 */
@Injectable()
export class CredentialVault implements OnModuleInit {
  private key?: Buffer;

  constructor(@Inject(secretsConfig.KEY) private readonly config: SecretsConfig) {}

  onModuleInit(): void {
    this.getKey();
  }

  encrypt(plaintext: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.getKey(), iv);
    const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [VERSION, iv.toString('base64'), cipher.getAuthTag().toString('base64'), data.toString('base64')].join(':');
  }

  /** Throws when the value was not produced with this key (tampered, or another key). */
  decrypt(ciphertext: string): string {
    const [version, iv, tag, data] = ciphertext.split(':');
    if (version !== VERSION || !iv || !tag || data === undefined) throw new Error('Stored secret is not in the expected format');
    const decipher = createDecipheriv('aes-256-gcm', this.getKey(), Buffer.from(iv, 'base64'), { authTagLength: TAG_BYTES });
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(data, 'base64')), decipher.final()]).toString('utf8');
  }

  private getKey(): Buffer {
    this.key ??= this.config.encryptionKey ? parseKey(this.config.encryptionKey) : this.loadOrCreateKeyFile();
    return this.key;
  }

  private loadOrCreateKeyFile(): Buffer {
    return parseKey(loadOrCreateSecretFile(this.config.keyFile, () => randomBytes(32).toString('hex')));
  }
}

function parseKey(text: string): Buffer {
  const key = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (key.length !== 32) throw new Error('The encryption key must be 32 bytes');
  return key;
}
