import type { RequestListener } from 'node:http';
import { INestApplication, RequestMethod } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import cors from 'cors';
import helmet from 'helmet';
import { HttpConfig, httpConfig } from './config/configuration';
import { explainBodyParseErrors, refuseUnacceptableInput, refuseUnreadableBodies } from './common/body-rules';
import { useFormSchemas } from './common/decorators/api-json-or-form-body.decorator';
import { operationsOf, splitLongSummaries } from './common/openapi-document';
import { OriginPolicy, refuseCrossSiteRequests } from './common/origin-policy';
import { REQUEST_ID_HEADER, RequestContext } from './common/request-context';
import { logRequests } from './common/request-logger';
import { logLevelsUpTo } from './config/environment';
import { requiredRole } from './modules/auth/auth.guard';
import { AuthService, SESSION_COOKIE } from './modules/auth/auth.service';
import type { Role } from './modules/auth/roles';
import { BackendMetrics } from './observability/backend-metrics.service';
import { API_PREFIX, HotReadLane } from './hot-reads/hot-read-lane';
import { ConfiguredIoAdapter } from './realtime/configured-io.adapter';
import { RedisConnections } from './cluster/redis-connections';
import { SIGN_IN_ROUTES } from './ui/ui-routes';

const JSON_BODY_LIMIT = '1mb';

/**
 * Everything main.ts does to the application besides listening, so that e2e tests built from
 * AppModule behave like production.
 */
export function configureApp(app: NestExpressApplication): void {
  const http = app.get<HttpConfig>(httpConfig.KEY);
  // Prometheus scrapes /metrics by default; OpenAI clients call <base>/v1/... (the gateway); people sign in at /login.
  app.setGlobalPrefix(API_PREFIX, { exclude: [{ path: 'metrics', method: RequestMethod.GET }, 'v1/{*path}', ...SIGN_IN_ROUTES] });
  app.disable('x-powered-by');
  app.set('trust proxy', http.trustProxy);
  // Lists are small and change often; a weak ETag per response costs a hash of every body.
  app.set('etag', false);
  const securityHeaders = helmet({
    // Logos are embedded by the admin UI from another origin.
    crossOriginResourcePolicy: { policy: 'cross-origin' },
    // Plain-HTTP deployments are common on internal networks: forcing https would break Swagger UI there.
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
    strictTransportSecurity: false,
  });
  const crossOriginHeaders = cors({
    origin: http.corsOrigins.includes('*') ? true : http.corsOrigins,
    credentials: !http.corsOrigins.includes('*'),
    // So that the admin UI can show the id a user quotes when reporting a failure.
    exposedHeaders: [REQUEST_ID_HEADER],
  });
  const logsEveryRequest = logLevelsUpTo(http.logLevel).includes('debug');
  // Ahead of Express itself, the polled lists for plain requests, with the headers of the chain below; not while debug
  // logging, which is to show every request.
  if (!logsEveryRequest) {
    answerAheadOfExpress(app, (express) => app.get(HotReadLane).listenerAhead(express, [securityHeaders, crossOriginHeaders]));
  }
  // First of the chain, so that every answer it gives (CORS preflights and helmet's included) carries its X-Request-Id,
  // and every log line its id; the lane's answers carry theirs.
  app.use(RequestContext.middleware);
  // Next, so that refusals of the checks below are timed too.
  app.use(app.get(BackendMetrics).observeHttpRequests);
  // Next, so that every answer carries its headers, errors of the checks and parsers below included.
  app.use(securityHeaders);
  app.use(crossOriginHeaders);
  if (logsEveryRequest) app.use(logRequests);
  const auth = app.get(AuthService);
  const origins = new OriginPolicy(http.corsOrigins, http.trustProxy);
  app.use(refuseCrossSiteRequests(origins, SESSION_COOKIE, auth.enabled));
  // JSON, and multipart for uploads (parsed by the upload routes themselves); nothing else is read.
  app.use(refuseUnreadableBodies);
  app.useBodyParser('json', { limit: JSON_BODY_LIMIT });
  app.use(refuseUnacceptableInput);
  app.use(explainBodyParseErrors);
  app.useWebSocketAdapter(new ConfiguredIoAdapter(app, http, auth, origins, app.get(RedisConnections)));
  SwaggerModule.setup('api/docs', app, () => createOpenApiDocument(app), {
    jsonDocumentUrl: 'api/docs-json',
    // The token pasted into "Authorize" survives a page reload.
    swaggerOptions: { persistAuthorization: true },
  });
  app.enableShutdownHooks();
}

/** Puts the listener `listenerAhead` makes in the Express app's place on the HTTP server; it hands Express what it leaves. */
function answerAheadOfExpress(app: NestExpressApplication, listenerAhead: (express: RequestListener) => RequestListener): void {
  const server = app.getHttpServer();
  const express = app.getHttpAdapter().getInstance() as RequestListener;
  if (!server.listeners('request').includes(express)) throw new Error("Express is not the HTTP server's request listener");
  server.removeListener('request', express);
  server.on('request', listenerAhead(express));
}

export function createOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('InfiniStudio backend')
    .setDescription(
      'Manages AI inference infrastructure: accelerator inventory, AI models, GPU servers, model services, ' +
        'chat through an OpenAI-compatible proxy, shell tasks and a browser SSH terminal. ' +
        'Errors are `{statusCode, error, details?, request_id}`. Every answer carries an `X-Request-Id` header (the ' +
        "caller's own when it is 1-64 letters, digits, `.`, `_` or `-`, else a generated one); error bodies also " +
        'give it as `request_id`: quote it when reporting a failure, as it names the log lines of that request. Every route but sign-in and health needs a token: ' +
        '`POST /api/auth/login`, then **Authorize** with the `access_token` (or an API token). ' +
        'Each operation names the least role it needs in `x-required-role` (viewer < operator < admin). ' +
        'Browsers may use the HttpOnly `infini_token` cookie instead, but a POST, PUT, PATCH or DELETE that relies on the ' +
        'cookie must carry an `Origin` (or, without one, a `Referer`) that is this backend or one of `CORS_ORIGINS`; ' +
        'otherwise it is refused with 403. With authentication off, every such request naming a foreign `Origin` is refused. ' +
        'Request bodies are JSON (`multipart/form-data` for uploads); anything else gets 415.',
    )
    .setVersion('1.0')
    // The document is served by the backend it describes, so relative to it; paths carry the `/api` prefix.
    .addServer('/', 'This backend')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'A login token (JWT) or an API token (`ist_…`)' }, 'bearer')
    .addCookieAuth(SESSION_COOKIE, { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE }, 'cookie')
    .build();
  // As package.json says: no rights granted, and so no licence text to link to (DocumentBuilder insists on a URL).
  config.info.license = { name: 'UNLICENSED (proprietary)' };
  const document = SwaggerModule.createDocument(app, config, {
    operationIdFactory: (_controllerKey, methodKey) => methodKey,
  });
  declareAccess(document);
  splitLongSummaries(document);
  useFormSchemas(document);
  return document;
}

const UNAUTHORIZED = {
  description: 'No token, or an invalid, expired or revoked one',
  content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorResponse' } } },
};
const FORBIDDEN = {
  description: 'Your role may not do this',
  content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorResponse' } } },
};

/** Marks every operation but the public ones as needing a token and a role, with their 401 and 403 answers. */
function declareAccess(document: OpenAPIObject): void {
  for (const { method, operation } of operationsOf(document)) {
    if (operation['x-public']) {
      operation.security = [];
      continue;
    }
    const role = requiredRole(method, operation['x-required-role'] as Role | undefined);
    operation['x-required-role'] = role;
    operation.security = [{ bearer: [] }, { cookie: [] }];
    operation.responses['401'] ??= UNAUTHORIZED;
    if (role !== 'viewer') operation.responses['403'] ??= FORBIDDEN;
  }
}
