import { NotFoundException } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Copied beside the compiled code by `nest build` (nest-cli.json `assets`). */
const PAGE_DIR = join(__dirname, 'login-page');
/** The page's script and style, at `/login/<name>`; nothing else in PAGE_DIR is served. */
const ASSET_TYPES: Readonly<Record<string, string>> = {
  'login.js': 'text/javascript; charset=utf-8',
  'login.css': 'text/css; charset=utf-8',
};
const ORIGINS_PLACEHOLDER = '{{ALLOWED_NEXT_ORIGINS}}';

const HTML_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => HTML_ESCAPES[character]);
}

/**
 * The sign-in page (login-page/): the HTML, which tells its script the origins besides its own that `next` may name,
 * and its script and style. Read on first use: a build by `tsc` alone (test/helpers/built-backend.ts) has no copy of
 * the files, and must still start.
 */
export class LoginPage {
  private html?: string;
  private readonly assets = new Map<string, string>();

  constructor(private readonly allowedNextOrigins: ReadonlySet<string>) {}

  render(): string {
    this.html ??= readFileSync(join(PAGE_DIR, 'login.html'), 'utf8').replace(ORIGINS_PLACEHOLDER, escapeHtml([...this.allowedNextOrigins].join(' ')));
    return this.html;
  }

  asset(name: string): { type: string; body: string } {
    if (!Object.hasOwn(ASSET_TYPES, name)) throw new NotFoundException('No such file');
    let body = this.assets.get(name);
    if (body === undefined) {
      body = readFileSync(join(PAGE_DIR, name), 'utf8');
      this.assets.set(name, body);
    }
    return { type: ASSET_TYPES[name], body };
  }
}
