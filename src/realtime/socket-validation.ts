import { ArgumentsHost, Catch, ValidationError, ValidationPipe, WsExceptionFilter } from '@nestjs/common';
import { WsException } from '@nestjs/websockets';
import type { Socket } from 'socket.io';

/**
 * Validates a Socket.IO message's payload against its DTO, for `@MessageBody(SocketPayloadPipe)` (the global
 * APP_PIPE does not apply to gateways). A refusal is a WsException with the first broken rule's message: a gateway
 * DTO's messages each state the whole rule, as its clients have always been told it.
 */
export const SocketPayloadPipe = new ValidationPipe({
  transform: true,
  whitelist: true,
  stopAtFirstError: true,
  exceptionFactory: (errors) => new WsException(firstMessage(errors)),
});

function firstMessage(errors: ValidationError[]): string {
  const [first] = errors;
  return Object.values(first?.constraints ?? {})[0] ?? 'Invalid payload';
}

/**
 * Answers a refused message with the gateway's own error event: `{error}` for a message, or the refusal's object
 * as it is (e.g. `{error, task_id}`). Only refusals: any other error keeps Nest's generic `exception` event.
 */
@Catch(WsException)
export class SocketRefusalFilter implements WsExceptionFilter<WsException> {
  constructor(private readonly errorEvent: string) {}

  catch(exception: WsException, host: ArgumentsHost): void {
    const error = exception.getError();
    host
      .switchToWs()
      .getClient<Socket>()
      .emit(this.errorEvent, typeof error === 'string' ? { error } : error);
  }
}
