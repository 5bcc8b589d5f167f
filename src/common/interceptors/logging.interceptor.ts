import { CallHandler, ExecutionContext, HttpException, Injectable, Logger, NestInterceptor } from '@nestjs/common';
import type { Request, Response } from 'express';
import { Observable, tap } from 'rxjs';
import { maskSecrets } from '../secrets';

/** One debug line per request; bodies are logged with secrets masked. */
@Injectable()
export class LoggingInterceptor implements NestInterceptor {
  private readonly logger = new Logger('HTTP');

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http' || !Logger.isLevelEnabled('debug')) return next.handle();
    const request = context.switchToHttp().getRequest<Request>();
    const startedAt = performance.now();
    const line = (status: number) => {
      const body = request.body && Object.keys(request.body).length ? ` ${JSON.stringify(maskSecrets(request.body))}` : '';
      const elapsed = (performance.now() - startedAt).toFixed(1);
      return `${request.method} ${request.originalUrl} ${status} ${elapsed}ms${body}`;
    };
    return next.handle().pipe(
      tap({
        next: () => this.logger.debug(line(context.switchToHttp().getResponse<Response>().statusCode)),
        error: (error: unknown) => this.logger.debug(line(error instanceof HttpException ? error.getStatus() : 500)),
      }),
    );
  }
}
