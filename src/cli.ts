import 'reflect-metadata';
import { parseCommand, USAGE, UsageError } from './admin/cli-arguments';
import { loadDotEnvFile } from './config/dot-env';
import { environment } from './config/environment';

/** The admin command line (`npm run admin -- <command>`, or `node dist/cli.js <command>`); see USAGE. */
async function main(args: string[]): Promise<number> {
  let command;
  try {
    command = parseCommand(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (command.name === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  loadDotEnvFile();
  // A bad setting stops here, with the message the backend prints (the admin module, loaded only then, would throw
  // it as it loads, stack trace and all).
  environment();
  const { runAdminCommand } = await import('./admin/run-admin-command');
  process.stdout.write(`${await runAdminCommand(command)}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);
