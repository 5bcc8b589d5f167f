import { IncomingMessage, OutgoingHttpHeader, RequestListener, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { Injectable, RequestMethod } from '@nestjs/common';
import {
  GUARDS_METADATA,
  INTERCEPTORS_METADATA,
  METHOD_METADATA,
  PATH_METADATA,
  RESPONSE_PASSTHROUGH_METADATA,
  ROUTE_ARGS_METADATA,
} from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import type { Request, RequestHandler, Response } from 'express';
import { REQUEST_ID_HEADER, requestIdFor } from '../common/request-context';
import { requiredRole } from '../modules/auth/auth.guard';
import { REQUIRED_ROLE } from '../modules/auth/access.decorators';
import { AuthService, presentedToken } from '../modules/auth/auth.service';
import { Role, roleAllows } from '../modules/auth/roles';
import { BackendMetrics } from '../observability/backend-metrics.service';
import { HOT_READ } from '../common/decorators/hot-read.decorator';

/** The global prefix of the API routes, which app.setup gives Nest. */
export const API_PREFIX = 'api';

interface HotRoute {
  /** The route template, e.g. `/api/brands`, which is also the only URL the lane answers for it. */
  path: string;
  role: Role;
  handle(request: IncomingMessage, response: ServerResponse): Promise<unknown>;
}

/**
 * The lists the admin UI polls (brands, models, servers, the overview), answered ahead of Express (its dispatch and
 * the middleware chain) and of Nest's pipeline of guards, pipes and observables, which together cost such a read more
 * than half of its CPU. The lane answers only a request it is sure about: a GET of exactly a `@HotRead` route's path,
 * no query, no body, no Origin (a cross-origin caller gets the full CORS treatment) and a caller the AuthGuard would
 * let through. It sends what the pipeline sends: the same handler's answer, the X-Request-Id, the security and CORS
 * headers the chain's middlewares set on every such answer (recorded once at start-up), timed under the same route in
 * /metrics. Anything else, a failing handler included, goes on to Express as if the lane were not there.
 */
@Injectable()
export class HotReadLane {
  private readonly routes = new Map<string, HotRoute>();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
    private readonly metrics: BackendMetrics,
  ) {}

  onModuleInit(): void {
    for (const wrapper of this.discovery.getControllers()) {
      const controller = wrapper.instance as Record<string, unknown> | undefined;
      if (!controller) continue;
      const prototype = Object.getPrototypeOf(controller) as object;
      for (const name of this.scanner.getAllMethodNames(prototype)) {
        const handler = controller[name] as (...args: unknown[]) => unknown;
        if (this.reflector.get<boolean>(HOT_READ, handler)) this.add(controller, name, handler);
      }
    }
  }

  /**
   * The lane as the HTTP server's request listener, in front of `chain` (the Express app) to which it leaves every
   * request it does not answer; `headerMiddlewares` are the chain's, whose headers its answers carry.
   */
  listenerAhead(chain: RequestListener, headerMiddlewares: RequestHandler[]): RequestListener {
    const headers = headersSetBy(headerMiddlewares);
    return (request, response) => {
      const next = () => void chain(request, response);
      const route = request.method === 'GET' && isPlain(request) ? this.routes.get(request.url!) : undefined;
      if (!route) return next();
      // A failure before the handler (authentication's read) leaves the request to the chain, which answers it properly.
      this.answer(route, headers, request, response, next).catch(next);
    };
  }

  private async answer(
    route: HotRoute,
    headers: RecordedHeaders,
    request: IncomingMessage,
    response: ServerResponse,
    next: () => void,
  ): Promise<void> {
    const arrivedAt = performance.now();
    const principal = await this.auth.authenticate(presentedToken(request.headers));
    if (!principal || !roleAllows(principal.role, route.role)) return next();
    response.setHeader(REQUEST_ID_HEADER, requestIdFor(request));
    for (const [name, value] of headers) response.setHeader(name, value);
    // From here, so that a client that leaves while the handler reads is counted as the chain would count it.
    const stopTiming = this.metrics.timeHttpAnswer(request, response, route.path, arrivedAt);
    try {
      await route.handle(request, response);
    } catch {
      // Before its answer went out, the chain can still give it (and time it); after, the connection is all there is to end.
      if (response.headersSent) return void response.destroy();
      stopTiming();
      next();
    }
  }

  private add(controller: object, name: string, handler: (...args: unknown[]) => unknown): void {
    const type = controller.constructor;
    const where = `${type.name}.${name}`;
    if (this.reflector.get<RequestMethod>(METHOD_METADATA, handler) !== RequestMethod.GET) throw new Error(`@HotRead ${where} is not a GET`);
    for (const key of [GUARDS_METADATA, INTERCEPTORS_METADATA]) {
      if (this.reflector.getAllAndMerge<unknown[]>(key, [handler, type]).length > 0) {
        throw new Error(`@HotRead ${where} has guards or interceptors of its own, which the lane would skip`);
      }
    }
    const path =
      '/' +
      [API_PREFIX, this.reflector.get<string>(PATH_METADATA, type), this.reflector.get<string>(PATH_METADATA, handler)]
        .flatMap((part) => part.split('/'))
        .filter((part) => part !== '')
        .join('/');
    if (path.includes(':') || path.includes('*')) throw new Error(`@HotRead ${where} has a parameter in its path`);
    const argumentsOf = argumentsFor(type, name, where);
    this.routes.set(path, {
      path,
      role: requiredRole('GET', this.reflector.getAllAndOverride<Role | undefined>(REQUIRED_ROLE, [handler, type])),
      handle: (request, response) => Promise.resolve(handler.apply(controller, argumentsOf(request, response))),
    });
  }
}

type RecordedHeaders = [string, OutgoingHttpHeader][];

/** A GET with no query and no body, from no other origin. */
function isPlain(request: IncomingMessage): boolean {
  const { headers } = request;
  return headers.origin === undefined && headers['transfer-encoding'] === undefined && (headers['content-length'] ?? '0') === '0';
}

/** How to call a handler that takes `@Res()` (not with passthrough: it sends the answer) and, if it likes, `@Req()`. */
function argumentsFor(type: object, name: string, where: string): (request: IncomingMessage, response: ServerResponse) => unknown[] {
  const declared = (Reflect.getMetadata(ROUTE_ARGS_METADATA, type, name) ?? {}) as Record<string, { index: number }>;
  // Keyed `<RouteParamtypes>:<index>`.
  const params: { kind: RouteParamtypes; index: number }[] = Object.entries(declared).map(([key, { index }]) => ({
    kind: Number(key.split(':')[0]),
    index,
  }));
  if (params.some(({ kind }) => kind !== RouteParamtypes.REQUEST && kind !== RouteParamtypes.RESPONSE)) {
    throw new Error(`@HotRead ${where} takes more than @Req() and @Res()`);
  }
  if (!params.some(({ kind }) => kind === RouteParamtypes.RESPONSE) || Reflect.getMetadata(RESPONSE_PASSTHROUGH_METADATA, type, name) === true) {
    throw new Error(`@HotRead ${where} must take @Res() without passthrough and send its answer`);
  }
  return (request, response) => {
    const values: unknown[] = [];
    for (const { kind, index } of params) values[index] = kind === RouteParamtypes.REQUEST ? request : response;
    return values;
  };
}

/**
 * The headers `middlewares` set on the answer to a plain GET, run once on a request that no one sent. They are the same
 * on every such answer (helmet's are fixed, CORS adds only `Vary` and the fixed ones when there is no Origin); the
 * e2e spec compares the lane's answers with the chain's.
 */
function headersSetBy(middlewares: RequestHandler[]): RecordedHeaders {
  const request = new IncomingMessage(new Socket());
  request.method = 'GET';
  request.url = '/';
  const response = new ServerResponse(request);
  for (const middleware of middlewares) {
    let passed = false;
    void middleware(request as Request, response as unknown as Response, () => (passed = true));
    if (!passed) throw new Error('A header middleware did not pass a plain GET on at once');
  }
  // Node has it on every OutgoingMessage (as the middlewares spelled them); @types/node declares it on ClientRequest only.
  const names = (response as ServerResponse & { getRawHeaderNames(): string[] }).getRawHeaderNames();
  return names.map((name) => [name, response.getHeader(name)!]);
}
