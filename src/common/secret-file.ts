import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Reads a secret kept in a file of DATA_DIR, or creates it (mode 0600) with `generate()` the first time.
 * When several processes start at once, the first to write wins and the others read its secret.
 */
export function loadOrCreateSecretFile(path: string, generate: () => string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const secret = generate();
  ensurePrivateDirectory(dirname(path));
  try {
    writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    return secret;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return readFileSync(path, 'utf8').trim();
  }
}

/** DATA_DIR holds the database and the keys: a folder the backend makes is for its owner alone (0700). */
export function ensurePrivateDirectory(path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o700 });
}

/**
 * Makes `path` owner-only (0600), creating it empty when missing, and takes group and other access away from the
 * companions that exist (SQLite's `-wal` and `-shm` take the mode of the database file when it creates them).
 */
export function ensureOwnerOnlyFile(path: string, companions: string[] = []): void {
  closeSync(openSync(path, 'a', 0o600));
  for (const file of [path, ...companions]) {
    try {
      chmodSync(file, 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}
