import { ConsoleLogger } from '@nestjs/common';
import { RequestContext } from './request-context';

/**
 * Nest's console logger, with `request_id=…` after the context of every line logged while handling a request, so
 * that the id a user quotes (X-Request-Id, or `request_id` of a 5xx body) finds that request's lines.
 */
export class RequestIdLogger extends ConsoleLogger {
  protected override formatContext(context: string): string {
    const requestId = RequestContext.requestId();
    return requestId ? `${super.formatContext(context)}request_id=${requestId} ` : super.formatContext(context);
  }
}
