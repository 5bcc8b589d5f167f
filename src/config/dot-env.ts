import { existsSync } from 'node:fs';

/**
 * Reads `.env` in the working directory into the environment, as `.env.example` suggests. Variables already set win:
 * what a deployment sets explicitly (compose, systemd, the shell) overrides a file left lying around.
 */
export function loadDotEnvFile(path = '.env'): void {
  if (existsSync(path)) process.loadEnvFile(path);
}
