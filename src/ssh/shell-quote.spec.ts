import { execFileSync } from 'node:child_process';
import { loginShellCommand, shellQuote } from './shell-quote';

describe('shellQuote', () => {
  it.each([
    ['plain', 'echo hi'],
    ['single quotes', `echo 'it'"'"'s'`],
    ['dollars and backticks', 'echo $HOME `id` $(id)'],
    ['backslashes', 'printf "%s" "a\\\\b\\n"'],
    ['newlines', 'echo one\necho two'],
    ['quotes of both kinds', `echo "double" 'single' \\'`],
  ])('survives a real shell unchanged: %s', (_name, command) => {
    const echoed = execFileSync('sh', ['-c', `printf %s ${shellQuote(command)}`], { encoding: 'utf8' });
    expect(echoed).toBe(command);
  });

  it('wraps a command in a login bash', () => {
    expect(loginShellCommand(`echo 'x'`)).toBe(`bash -l -c 'echo '\\''x'\\'''`);
  });
});
