import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { WsException } from '@nestjs/websockets';
import type { Socket } from 'socket.io';
import { socketPrincipal } from '../../realtime/configured-io.adapter';
import { AuthService } from '../auth/auth.service';
import { roleAllows, roleWithArticle } from '../auth/roles';

/**
 * Terminals are for operators, checked as of now: the socket's token is authenticated again, since a socket outlives
 * the sign-in it was opened with. Runs before the payload is validated, so that a caller without the role learns that first.
 */
@Injectable()
export class TerminalOperatorGuard implements CanActivate {
  constructor(private readonly auth: AuthService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const principal = await socketPrincipal(this.auth, context.switchToWs().getClient<Socket>());
    if (principal && roleAllows(principal.role, 'operator')) return true;
    const who = principal ? `${principal.username} is ${roleWithArticle(principal.role)}` : 'you are not signed in';
    throw new WsException(`Forbidden: terminals need the operator role; ${who}`);
  }
}
