import { Injectable } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { randomBytes } from 'node:crypto';
import { CreateUserDto } from '../modules/auth/dto/auth.dto';
import { Role } from '../modules/auth/roles';
import { UsersRepository } from '../modules/auth/users.repository';
import { UsersService } from '../modules/auth/users.service';
import { CommandError } from './command-error';
import { boxed, table, utcTime } from '../common/text-output';

/** The user commands of the admin CLI; each returns what it prints. */
@Injectable()
export class UserCommands {
  constructor(
    private readonly usersService: UsersService,
    private readonly users: UsersRepository,
  ) {}

  async list(): Promise<string> {
    const users = await this.usersService.list();
    if (users.length === 0) return 'No users yet: the backend creates the first admin at its first start.';
    return table(
      ['ID', 'USERNAME', 'ROLE', 'STATE', 'CREATED'],
      users.map((user) => [String(user.id), user.username, user.role, user.disabled ? 'disabled' : 'enabled', utcTime(user.created_at)]),
    );
  }

  /** Under the users API's own rules for names and passwords. */
  async create(username: string, role: Role): Promise<string> {
    const password = generatedPassword();
    const dto = plainToInstance(CreateUserDto, { username, password, role });
    const problems = validateSync(dto).flatMap((error) => Object.values(error.constraints ?? {}));
    if (problems.length > 0) throw new CommandError(problems.join('; '));
    const user = await this.usersService.create(dto);
    return `Created the ${role} "${user.username}" (id ${user.id}).\n${passwordBox(user.username, password)}`;
  }

  /** The new password changes the user's password_changed_at, which every login token issued before it is checked against. */
  async resetPassword(username: string): Promise<string> {
    const user = await this.users.findByUsername(username);
    if (!user) throw new CommandError(`No user named "${username}"`);
    const password = generatedPassword();
    await this.usersService.update(user.id, { password });
    const note = user.disabled ? '\nThe account is disabled: the password works once an admin enables it.' : '';
    return `Reset the password of "${user.username}" and ended their sessions (API tokens stay valid).\n${passwordBox(user.username, password)}${note}`;
  }
}

/** As long as the first admin's generated password: 144 random bits. */
function generatedPassword(): string {
  return randomBytes(18).toString('base64url');
}

function passwordBox(username: string, password: string): string {
  return boxed([`username: ${username}`, `password: ${password}`, '', 'Shown this once: pass it on now.']);
}
