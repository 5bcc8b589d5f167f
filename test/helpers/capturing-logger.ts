import { LoggerService } from '@nestjs/common';

/** Keeps every line the application logs, at every level, for scans (secrets, expected warnings). */
export class CapturingLogger implements LoggerService {
  readonly lines: string[] = [];
  log = (message: unknown, ...rest: unknown[]): void => {
    this.lines.push([message, ...rest].map(String).join(' '));
  };
  error = this.log;
  warn = this.log;
  debug = this.log;
  verbose = this.log;
  fatal = this.log;
}
