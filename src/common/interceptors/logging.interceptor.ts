import { CallHandler, ExecutionContext, HttpException, Inject, Injectable, Logger, NestInterceptor } from '@nestjs/common';
import type { Request, Response } from 'express';
import { Observable, tap } from 'rxjs';
import { httpConfig, HttpConfig } from '../../config/configuration';
import { logLevelsUpTo } from '../../config/environment';
import { maskSecrets } from '../secrets';

/** One debug line per request; bodies are logged with secrets masked. */
@Injectable()
export class LoggingInterceptor implements NestInterceptor {
  private readonly logger = new Logger('HTTP');
  private readonly enabled: boolean;

  constructor(@Inject(httpConfig.KEY) http: HttpConfig) {
    this.enabled = logLevelsUpTo(http.logLevel).includes('debug');
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (!this.enabled || context.getType() !== 'http') return next.handle();
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
