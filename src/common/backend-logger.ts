import { RequestIdLogger } from './request-id-logger';

/** Nest's own start-up lines: one per module, route and socket message (about 115), none of them news to an operator. */
const START_UP_CONTEXTS = new Set(['NestFactory', 'InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'WebSocketsController', 'NestApplication']);

/** The backend's logger: Nest's start-up lines at `debug`, so that `log` shows the start-up report and what matters. */
export class BackendLogger extends RequestIdLogger {
  override log(message: unknown, ...optionalParams: unknown[]): void {
    const context = optionalParams.at(-1);
    if (typeof context === 'string' && START_UP_CONTEXTS.has(context)) this.debug(message, ...optionalParams);
    else super.log(message, ...optionalParams);
  }
}
