import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { UploadsService } from '../../modules/inventory/uploads.service';
import { legacyText } from './legacy-values';

/** A logo the old backend served itself (`/api/uploads/<name>`, maybe with its address in front). */
const OLD_UPLOAD_URL = /^(?:https?:\/\/[^/]+)?\/api\/uploads\/([^/?#]+)$/;

/** Brings the old backend's uploaded logos over: each file is stored as our uploads are, once, under a name of ours. */
export class LegacyLogos {
  /** Old file name → our URL. */
  private readonly copied = new Map<string, string>();

  constructor(
    private readonly uploads: UploadsService,
    /** The old backend's uploads folder, when given. */
    private readonly dir: string | undefined,
    private readonly dryRun: boolean,
  ) {}

  get count(): number {
    return this.copied.size;
  }

  /**
   * Our URL for an old `logo` value: a copied upload's, an external address as it was, or null with the reason in
   * `changes` when the file cannot be brought over.
   */
  async ourUrl(value: unknown, changes: string[]): Promise<string | null> {
    const logo = legacyText(value);
    const upload = logo === null ? null : OLD_UPLOAD_URL.exec(logo);
    if (!upload) return logo;
    const name = basename(upload[1]);
    const known = this.copied.get(name);
    if (known) return known;
    if (!this.dir) {
      changes.push(`logo ${name} left out: no --uploads folder given`);
      return null;
    }
    const bytes = await readFile(join(this.dir, name)).catch(() => null);
    if (!bytes) {
      changes.push(`logo ${name} left out: not found in ${this.dir}`);
      return null;
    }
    try {
      const url = await this.store(name, bytes, logo!);
      this.copied.set(name, url);
      return url;
    } catch (error) {
      changes.push(`logo ${name} left out: ${(error as Error).message}`);
      return null;
    }
  }

  /** Stores the file as our upload and returns its URL; a dry run only checks it, and keeps the old URL. */
  private async store(name: string, bytes: Buffer, oldUrl: string): Promise<string> {
    if (!this.dryRun) return (await this.uploads.storeImageBytes(name, bytes)).url;
    this.uploads.checkImage(name, bytes);
    return oldUrl;
  }
}
