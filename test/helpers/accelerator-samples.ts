import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * Real outputs of accelerator monitoring tools, kept beside the repository (`../shared/accelerator-samples`, or
 * ACCELERATOR_SAMPLES_DIR) with their sources in its SOURCES.md; they are not copied into the repository.
 */
export const SAMPLES_DIR = process.env.ACCELERATOR_SAMPLES_DIR ?? resolve(__dirname, '../../../shared/accelerator-samples');

/** The text of one sample, byte for byte. Throws when the samples are missing: a suite must not pass on nothing. */
export function sample(name: string): string {
  const path = join(SAMPLES_DIR, name);
  if (!existsSync(path)) throw new Error(`Accelerator sample ${name} not found in ${SAMPLES_DIR} (set ACCELERATOR_SAMPLES_DIR)`);
  return readFileSync(path, 'utf8');
}

/** The names of the samples whose file name starts with `prefix` (e.g. `huawei-npu-smi-`), sorted. */
export function samplesNamed(prefix: string): string[] {
  return readdirSync(SAMPLES_DIR)
    .filter((name) => name.startsWith(prefix))
    .sort();
}
