#!/usr/bin/env node
// Runs `nest build` only when the sources differ from those of the build in dist/, so that `npm start` and
// `npm run admin` on an unchanged tree start at once instead of recompiling (about 10 s) every time.
const { createHash } = require('node:crypto');
const { existsSync, readdirSync, readFileSync, writeFileSync } = require('node:fs');
const { join, relative } = require('node:path');
const { execFileSync } = require('node:child_process');

const ROOT = join(__dirname, '..');
const DIST = join(ROOT, 'dist');
const STAMP = join(DIST, '.sources.sha256');
/** What the build is made of besides src/: compiler and plugin settings, and the installed packages. */
const BUILD_FILES = ['nest-cli.json', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];

function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path) : [path];
  });
}

function sourcesHash() {
  const hash = createHash('sha256');
  const files = [...filesUnder(join(ROOT, 'src')), ...BUILD_FILES.map((name) => join(ROOT, name)).filter(existsSync)].sort();
  for (const file of files) hash.update(relative(ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
  return hash.digest('hex');
}

const wanted = sourcesHash();
const built = existsSync(STAMP) && existsSync(join(DIST, 'main.js')) ? readFileSync(STAMP, 'utf8').trim() : undefined;
if (built !== wanted) {
  execFileSync(process.execPath, [require.resolve('@nestjs/cli/bin/nest.js'), 'build'], { cwd: ROOT, stdio: 'inherit' });
  writeFileSync(STAMP, `${wanted}\n`);
}
