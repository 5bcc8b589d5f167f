import { NestFactory } from '@nestjs/core';
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { RequestContext } from '../common/request-context';
import { AdminModule } from './admin.module';
import { AdminCommand } from './cli-arguments';
import { CommandError } from './command-error';
import { LegacyImporter } from './legacy-import/legacy-importer.service';
import { LegacyDatabase } from './legacy-import/legacy-database';
import { UserCommands } from './user-commands';

type WorkCommand = Exclude<AdminCommand, { name: 'help' }>;

/** Runs `command` against the configured database and returns what to print. */
export async function runAdminCommand(command: WorkCommand): Promise<string> {
  // The old database and the uploads folder are checked first: a wrong path fails at once, with nothing started.
  const legacy = command.name === 'import-legacy' ? LegacyDatabase.open(command.database) : undefined;
  try {
    if (command.name === 'import-legacy' && command.uploads !== undefined && !(await stat(command.uploads).catch(() => null))?.isDirectory()) {
      throw new CommandError(`--uploads ${command.uploads} is not a folder`);
    }
    const app = await NestFactory.createApplicationContext(AdminModule, { logger: ['error', 'warn'] });
    try {
      // The audit trail names who acted: the operating-system user at the console.
      const caller = { userId: null, username: `cli:${operatingSystemUser()}`, role: 'admin' as const };
      return await RequestContext.run({ requestId: randomUUID(), ip: null, principal: caller }, async () => {
        switch (command.name) {
          case 'list-users':
            return app.get(UserCommands).list();
          case 'create-user':
            return app.get(UserCommands).create(command.username, command.role);
          case 'reset-password':
            return app.get(UserCommands).resetPassword(command.username);
          case 'import-legacy':
            return String(await app.get(LegacyImporter).run(legacy!, command));
        }
      });
    } finally {
      await app.close();
    }
  } finally {
    legacy?.close();
  }
}

function operatingSystemUser(): string {
  try {
    return userInfo().username;
  } catch {
    // A container's user may have no passwd entry.
    return String(process.getuid?.() ?? 'unknown');
  }
}
