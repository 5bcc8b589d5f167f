import { chmodSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PATH_HOOK = '/etc/profile.d/infinitest-tools.sh';
const TOOLS_VARIABLE = 'INFINITEST_TOOLS';

/**
 * Stand-ins for vendor tools (nvidia-smi, npu-smi, ...) on the PATH of the sessions of one test sshd only.
 *
 * Every process on this machine logs in as the one test user (two CI runs side by side, the bench), so tools in its
 * home would show up in, or be deleted under, another process's suite. These live in a directory of their own; the
 * sshd started with `sshdConfig` names it in the sessions' environment (SetEnv), and a login shell puts it first on
 * its PATH through an /etc/profile.d hook, which runs after /etc/profile has reset the PATH. Sessions of any other
 * sshd do not have the variable and see no tools.
 */
export class StandInTools {
  private constructor(readonly dir: string) {}

  static create(): StandInTools {
    installPathHook();
    const dir = mkdtempSync(join(tmpdir(), 'infinitest-tools-'));
    chmodSync(dir, 0o755);
    return new StandInTools(dir);
  }

  /** For startSshd's `extraConfig`. */
  get sshdConfig(): string[] {
    return [`SetEnv ${TOOLS_VARIABLE}=${this.dir}`];
  }

  /** A tool that runs `script` (sh), whatever arguments it gets. */
  install(name: string, script: string): void {
    writeFileSync(join(this.dir, name), `#!/bin/sh\n${script}\n`, { mode: 0o755 });
  }

  /** A tool that prints `output` byte for byte. */
  printing(name: string, output: string): void {
    const outputPath = join(this.dir, `${name}.out`);
    writeFileSync(outputPath, output, { mode: 0o644 });
    this.install(name, `cat '${outputPath}'`);
  }

  /** Takes every tool off the PATH (the directory moves aside) or puts them back. */
  setPresent(present: boolean): void {
    const [from, to] = present ? [this.parked, this.dir] : [this.dir, this.parked];
    renameSync(from, to);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
    rmSync(this.parked, { recursive: true, force: true });
  }

  private get parked(): string {
    return `${this.dir}.off`;
  }
}

/** The same few lines from every process: written aside, then renamed into place, so no shell reads half a file. */
function installPathHook(): void {
  const draft = `${PATH_HOOK}.${process.pid}`;
  writeFileSync(
    draft,
    `# InfiniStudio's test suites: the stand-in vendor tools of the test sshd this session came through.\n` +
      `if [ -n "$${TOOLS_VARIABLE}" ]; then PATH="$${TOOLS_VARIABLE}:$PATH"; fi\n`,
    { mode: 0o644 },
  );
  renameSync(draft, PATH_HOOK);
}
