import { parseArgs } from 'node:util';
import { ROLES, Role } from '../modules/auth/roles';

export type AdminCommand =
  | { name: 'help' }
  | { name: 'list-users' }
  | { name: 'create-user'; username: string; role: Role }
  | { name: 'reset-password'; username: string }
  | { name: 'import-legacy'; database: string; uploads?: string; dryRun: boolean; enableTasks: boolean };

export const USAGE = `Usage: npm run admin -- <command> [options]
  (in Docker: docker compose exec backend node dist/cli.js <command> [options])

Commands:
  list-users                       the users: id, username, role, state, created
  create-user <username> [--role admin|operator|viewer]
                                   adds a user (default role: viewer) with a generated password, shown once
  reset-password <username>        gives the user a generated password, shown once, and ends their sessions
  import-legacy <infini.db> [--uploads <dir>] [--dry-run] [--enable-tasks]
                                   copies the old Flask backend's database (and, from <dir>, its logos) into this one;
                                   tasks arrive disabled unless --enable-tasks; --dry-run only reports
  help                             this text

Settings come from the environment, as for the backend (DATA_DIR, DATABASE_URL, ENCRYPTION_KEY, ...).`;

/** Bad usage: the caller gets the usage text and exit code 2. */
export class UsageError extends Error {}

/** The command that `args` (what follows `cli.js`) asks for; throws UsageError when they ask for none. */
export function parseCommand(args: string[]): AdminCommand {
  const [name, ...rest] = args;
  switch (name) {
    case 'help':
    case '--help':
    case '-h':
      return { name: 'help' };
    case 'list-users':
      parse(rest, [], {});
      return { name };
    case 'create-user': {
      const { positionals, values } = parse(rest, ['username'], { role: { type: 'string', default: 'viewer' } });
      const role = values.role as Role;
      if (!ROLES.includes(role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
      return { name, username: positionals[0], role };
    }
    case 'reset-password':
      return { name, username: parse(rest, ['username'], {}).positionals[0] };
    case 'import-legacy': {
      const { positionals, values } = parse(rest, ['infini.db'], {
        uploads: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        'enable-tasks': { type: 'boolean', default: false },
      });
      return {
        name,
        database: positionals[0],
        uploads: values.uploads as string | undefined,
        dryRun: values['dry-run'] as boolean,
        enableTasks: values['enable-tasks'] as boolean,
      };
    }
    case undefined:
      throw new UsageError('No command given');
    default:
      throw new UsageError(`Unknown command "${name}"`);
  }
}

type OptionSpecs = NonNullable<Parameters<typeof parseArgs>[0]>['options'];

/** Parses a command's arguments: exactly the `positionals` it names, and only the options it knows. */
function parse(args: string[], positionals: string[], options: OptionSpecs): { positionals: string[]; values: Record<string, unknown> } {
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const given = parsed.positionals.length;
  if (given < positionals.length) throw new UsageError(`Missing argument <${positionals[given]}>`);
  if (given > positionals.length) throw new UsageError(`Unexpected argument "${parsed.positionals[positionals.length]}"`);
  return parsed;
}
