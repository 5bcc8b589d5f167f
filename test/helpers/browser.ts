import { existsSync } from 'node:fs';
import { Browser, chromium } from 'playwright-core';

/** Debian's package (`apt-get install chromium`), which CI installs; playwright-core brings no browser of its own. */
const CHROMIUM = '/usr/bin/chromium';

const browserRequired = process.env.REQUIRE_BROWSER === '1' || process.env.CI === 'true';

/** Browser suites run where there is one, and are reported as skipped elsewhere. */
export const browserAvailable: boolean = existsSync(CHROMIUM);

// In CI (and with REQUIRE_BROWSER=1) the browser suites fail loudly instead of being skipped.
if (!browserAvailable && browserRequired) {
  throw new Error(`${process.env.CI === 'true' ? 'CI=true' : 'REQUIRE_BROWSER=1'} but ${CHROMIUM} is missing: apt-get install chromium`);
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
}
