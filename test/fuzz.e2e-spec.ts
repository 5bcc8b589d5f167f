import { LoggerService } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import type { Response, Test } from 'supertest';
import { startTestApp, TEST_ADMIN, TestApp } from './helpers/test-app';

/**
 * A bounded fuzz pass over every operation of the OpenAPI document: bodies, path ids and query strings built
 * from each operation's schemas, then malformed one field or one aspect at a time. Bad input must get a 4xx:
 * any 5xx (but an upstream's 502/504, see `isFailure`), a hang or a dropped connection is collected, and all of
 * them are reported together at the end.
 *
 * Only loopback is ever contacted: host fields are always 127.0.0.1, ports are closed loopback ports, and a
 * guard on `net.Socket#connect` refuses (and reports) anything else.
 */

const SEED = Number(process.env.FUZZ_SEED ?? 20260101) >>> 0;
/** Keeps the pass under a minute on a 2-core machine; probes beyond it are sampled with the seed. */
const MAX_REQUESTS = Number(process.env.FUZZ_MAX_REQUESTS ?? 3000);
const REQUEST_TIMEOUT_MS = 10_000;
/** An operation that hangs twice will hang again: the rest of its probes would only cost time. */
const HANGS_PER_OPERATION = 2;

const PNG = readFileSync(join(__dirname, 'fixtures/logo.png'));
const HTTP_METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
type Method = (typeof HTTP_METHODS)[number];

interface Schema {
  $ref?: string;
  type?: string;
  format?: string;
  enum?: unknown[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  allOf?: Schema[];
  oneOf?: Schema[];
  anyOf?: Schema[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  maxItems?: number;
  example?: unknown;
  default?: unknown;
}

interface Parameter {
  name: string;
  in: string;
  schema?: Schema;
}

interface Operation {
  method: Method;
  path: string;
  parameters: Parameter[];
  bodies: { contentType: string; schema: Schema }[];
}

interface Part {
  name: string;
  value: string | Buffer;
  /** Set for a file part. */
  filename?: string;
  contentType?: string;
}

type Body =
  { kind: 'text'; contentType: string; text: string; headers?: Record<string, string>; value?: unknown } | { kind: 'multipart'; parts: Part[] };

/** One request: which aspect is malformed, and the request itself. */
interface Probe {
  mutation: string;
  /** Path parameters, already URL-encoded; absent ones get the fixture's id. */
  path: Record<string, string>;
  /** The query string, already URL-encoded. */
  query: string;
  body?: Body;
}

interface Failure {
  operation: string;
  url: string;
  mutation: string;
  body: string;
  status: number | string;
  response: string;
  logs: string[];
}

/** Written into JSON as it is: numbers JSON.stringify cannot produce (1e999, 30 digits) and nesting too deep to build. */
class Raw {
  constructor(readonly text: string) {}
}
const ABSENT = Symbol('absent');

/** mulberry32: small, fast and the same sequence for the same seed everywhere. */
function prng(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function toJson(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_key, item: unknown) => (item instanceof Raw ? `\u0000raw${raws.push(item.text) - 1}\u0000` : item));
  return text.replace(/"\\u0000raw(\d+)\\u0000"/g, (_match, index: string) => raws[Number(index)]);
}

const DEEP_ARRAYS = new Raw(`${'['.repeat(5000)}${']'.repeat(5000)}`);
const DEEP_OBJECTS = new Raw(`${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`);
const DATES: [string, string][] = [
  ['date "1"', '1'],
  ['date "-1"', '-1'],
  ['date 2026-13-45', '2026-13-45'],
  ['date 2026-02-30T25:61:61Z', '2026-02-30T25:61:61Z'],
  ['date beyond Date range', '+275760-09-13T00:00:00.001Z'],
];

/** Every field gets these, whatever its type. */
const ANY_FIELD: [string, unknown][] = [
  ['absent', ABSENT],
  ['null', null],
  ['[]', []],
  ['{}', {}],
  ['5000 nested arrays', DEEP_ARRAYS],
  ['5000 nested objects', DEEP_OBJECTS],
  ['__proto__ object', new Raw('{"__proto__":{"polluted":true}}')],
];
/** Contents for string fields; for the other types one wrong-typed string (below) is enough. */
const ODD_STRINGS: [string, string][] = [
  ['""', ''],
  ['whitespace', '   '],
  ['10k chars', 'x'.repeat(10_000)],
  ['NUL', 'a\u0000b'],
  ['control chars', 'a\u0001\u0007\u001b[31m\r\n\tb'],
  ['bidi override', '\u202eabc'],
  ['zero-width space', '\u200b'],
  ['lone surrogate', '\ud800'],
];
const ODD_NUMBERS: [string, unknown][] = [
  ['0', 0],
  ['-1', -1],
  ['1.5', 1.5],
  ['1e308', 1e308],
  ['2^53+2', 2 ** 53 + 2],
  ['1e999 (Infinity)', new Raw('1e999')],
  ['30-digit integer', new Raw('123456789012345678901234567890')],
];
/** The odd contents most likely to reach a parser (a cron expression, a private key) once an enum value enables it. */
const VARIANT_STRINGS: [string, unknown][] = [
  ['null', null],
  ...ODD_STRINGS.filter(([label]) => ['""', '10k chars', 'NUL', 'control chars', 'lone surrogate'].includes(label)),
];
/** What a lenient conversion would turn into a number. */
const NUMERIC_STRINGS: [string, string][] = [
  ['""', ''],
  ['"12"', '12'],
  ['"NaN"', 'NaN'],
  ['"0x10"', '0x10'],
];

/** Query values are strings: the same ideas, URL-encoded by hand where encodeURIComponent cannot (lone surrogates, raw bytes). */
const QUERY_MUTATIONS: [string, string][] = [
  ['""', ''],
  ['0', '0'],
  ['-1', '-1'],
  ['1.5', '1.5'],
  ['x', 'x'],
  ['1e9', '1e9'],
  ['NaN', 'NaN'],
  ['Infinity', 'Infinity'],
  ['20 digits', '99999999999999999999'],
  ['10k chars', 'x'.repeat(10_000)],
  ['NUL', 'a%00b'],
  ['control chars', '%01%1B%5B31m%0D%0A'],
  ['bidi override', encodeURIComponent('\u202eabc')],
  ['zero-width space', encodeURIComponent('\u200b')],
  ['lone surrogate (CESU-8)', '%ED%A0%80'],
  ['invalid UTF-8', '%FF%FE'],
  ['malformed percent-encoding', '%ZZ'],
  ...DATES.map(([label, value]): [string, string] => [label, encodeURIComponent(value)]),
];

const PATH_MUTATIONS: [string, string][] = [
  ['id 0', '0'],
  ['id -1', '-1'],
  ['id 1.5', '1.5'],
  ['id abc', 'abc'],
  ['id 99999999999999999999', '99999999999999999999'],
  ['id 1e3', '1e3'],
  ['id NUL', '%00'],
  ['id malformed percent-encoding', '%ZZ'],
  ['id ../', '..%2F..%2Fpackage.json'],
  ['id 5000 digits', '1'.repeat(5000)],
];

/** Field names whose values the fuzz never varies to another address or port: nothing outside may be contacted. */
const isHostField = (name: string) => /host/i.test(name);
const isPortField = (name: string) => /(^|_)port$/.test(name);
/** Host fields get only values that cannot name a host. */
const isHostSafe = (value: unknown) =>
  value === ABSENT || value === '' || typeof value === 'boolean' || (value instanceof Raw ? /^[[{]/.test(value.text) : typeof value === 'object');

/**
 * The order of the walk. Updates go after the calls that use the fixtures (an update may leave a service without
 * servers, and its restart would then stop at a 400); then the calls that end the admin's session or change its
 * password; deletes last.
 */
function rank({ method, path }: Operation): number {
  if (/\/auth\/(logout|password)$/.test(path)) return 2;
  return { put: 1, patch: 1, delete: 3 }[method as string] ?? 0;
}

/** Collects the errors the application logs, by the request being handled when they were logged. */
class ErrorCollector implements LoggerService {
  current = -1;
  readonly entries: { request: number; text: string }[] = [];
  error(message: unknown, ...rest: unknown[]): void {
    // Nest's Logger passes its context last, after the stack.
    const context = rest.length > 1 && typeof rest[rest.length - 1] === 'string' ? `[${String(rest.pop())}] ` : '';
    this.entries.push({
      request: this.current,
      text:
        context +
        [message, ...rest]
          .filter((part) => part !== undefined)
          .map(String)
          .join('\n'),
    });
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.error(message, ...rest);
  }
  log(): void {}
  warn(): void {}
  debug(): void {}
  verbose(): void {}
}

/**
 * Refuses every TCP connection to something other than loopback, before any DNS lookup, and records it.
 * Core modules are shared by the test and the application it loads, so this covers ssh2, undici and fetch.
 */
function guardConnections(): { refused: string[]; restore(): void } {
  // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be called with apply(this) and put back by restore()
  const original = net.Socket.prototype.connect;
  const refused: string[] = [];
  net.Socket.prototype.connect = function connect(this: net.Socket, ...args: unknown[]) {
    const [first, second] = (Array.isArray(args[0]) ? args[0] : args) as unknown[];
    const options = typeof first === 'object' && first !== null ? (first as { host?: string; port?: unknown; path?: string }) : undefined;
    const isUnixSocket = options ? options.path !== undefined : typeof first === 'string' && Number.isNaN(Number(first));
    const host = options ? (options.host ?? 'localhost') : typeof second === 'string' ? second : 'localhost';
    if (!isUnixSocket && !isLoopback(host)) {
      const target = `${host}:${String(options ? options.port : first)}`;
      refused.push(target);
      process.nextTick(() => this.destroy(new Error(`fuzz: refused a connection to ${target} (loopback only)`)));
      return this;
    }
    return original.apply(this, args as Parameters<typeof original>);
  };
  return { refused, restore: () => (net.Socket.prototype.connect = original) };
}

function isLoopback(host: string): boolean {
  if (!net.isIP(host)) return host === 'localhost';
  return /^127\./.test(host) || host === '::1' || /^::ffff:127\./i.test(host);
}

/**
 * Loopback ports nothing listens on, picked below the ephemeral range so that supertest's per-request listeners
 * never land on one of them during the walk.
 */
async function closedLoopbackPorts(count: number, random: () => number): Promise<number[]> {
  let ephemeralLow = 32768;
  try {
    ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    // Not Linux: the IANA range starts higher still.
  }
  const ports: number[] = [];
  while (ports.length < count) {
    const port = 10_000 + Math.floor(random() * (Math.max(ephemeralLow, 11_000) - 10_000));
    const refused = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.once('connect', () => (socket.destroy(), resolve(false)));
      socket.once('error', () => resolve(true));
    });
    if (refused && !ports.includes(port)) ports.push(port);
  }
  return ports;
}

describe('fuzzing every documented operation with malformed input', () => {
  const random = prng(SEED);
  const errors = new ErrorCollector();
  const failures: Failure[] = [];
  const statuses = new Map<string, number>();
  let guard: ReturnType<typeof guardConnections>;
  let t: TestApp;
  let document: { paths: Record<string, Record<string, Record<string, unknown>>> };
  let operations: Operation[];
  let closedPorts: number[];
  let adminPassword = TEST_ADMIN.password;
  let token: string;
  const fixtures = new Map<string, string>();
  let unique = 0;

  beforeAll(async () => {
    console.log(`fuzz seed ${SEED} (set FUZZ_SEED to replay another), at most ${MAX_REQUESTS} requests`);
    guard = guardConnections();
    closedPorts = await closedLoopbackPorts(3, random);
    t = await startTestApp(
      {
        // The login route is fuzzed too, and the walk signs in again after the session-ending calls.
        LOGIN_RATE_LIMIT_PER_IP: '1000000',
        LOGIN_RATE_LIMIT_PER_USER: '1000000',
        // Every peer is a closed port: fail fast.
        SSH_CONNECT_TIMEOUT_MS: '2000',
        AGENT_OPERATION_TIMEOUT_MS: '2000',
        AGENT_STATUS_TIMEOUT_MS: '1000',
        CHAT_CONNECT_TIMEOUT_MS: '1000',
      },
      errors,
    );
    token = t.adminToken;
    document = (await t.http.get('/api/docs-json').expect(200)).body;
    operations = Object.entries(document.paths)
      .flatMap(([path, item]) =>
        HTTP_METHODS.filter((method) => item[method]).map((method): Operation => {
          const operation = item[method];
          const content = (resolve(operation.requestBody as Schema) as { content?: Record<string, { schema?: Schema }> }).content ?? {};
          return {
            method,
            path,
            parameters: [
              ...((item.parameters as unknown as Parameter[] | undefined) ?? []),
              ...((operation.parameters as Parameter[] | undefined) ?? []),
            ].map((parameter) => resolve(parameter as Schema) as unknown as Parameter),
            bodies: Object.entries(content).map(([contentType, media]) => ({ contentType, schema: media.schema ?? {} })),
          };
        }),
      )
      // The document lists owners before what they own: deleting in reverse order lets the deletes succeed.
      .map((operation, index) => ({ operation, order: rank(operation) * 1000 + (operation.method === 'delete' ? -index : index) }))
      .sort((a, b) => a.order - b.order)
      .map(({ operation }) => operation);
    await createFixtures();
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    guard?.restore();
  });

  /** One of everything the path ids can name, so valid-ish probes reach the handlers' real work. */
  async function createFixtures(): Promise<void> {
    const [port, agentPort, chatPort] = closedPorts;
    const created = async (url: string, body: object) => String((await t.http.post(url).send(body).expect(201)).body.id);
    fixtures.set('brands', await created('/api/brands', { name: 'fuzz brand' }));
    fixtures.set('accelerators', await created(`/api/brands/${fixtures.get('brands')}/accelerators`, { name: 'fuzz card', model: 'F1' }));
    fixtures.set('models', await created('/api/models', { name: 'fuzz model' }));
    fixtures.set(
      'servers',
      await created('/api/servers', {
        name: 'fuzz server',
        host_ip: '127.0.0.1',
        username: 'fuzz',
        password: 'fuzz',
        port,
        agent_port: agentPort,
        chat_port: chatPort,
      }),
    );
    fixtures.set(
      'services',
      await created('/api/services', {
        name: 'fuzz service',
        model_id: Number(fixtures.get('models')),
        server_ids: [Number(fixtures.get('servers'))],
        deploy_command: 'true',
      }),
    );
    await t.http
      .post(`/api/services/${fixtures.get('services')}/chat`)
      .send({ role: 'user', content: 'hello' })
      .expect(201);
    fixtures.set(
      'tasks',
      await created('/api/tasks', {
        name: 'fuzz task',
        command: 'true',
        server_id: Number(fixtures.get('servers')),
        schedule_type: 'once',
        run_at: '2099-01-01T00:00:00.000Z',
      }),
    );
    // Never the admin: the walk must keep its own account.
    fixtures.set('users', await created('/api/users', { username: 'fuzz-viewer', password: 'fuzz-viewer-password', role: 'viewer' }));
    fixtures.set('tokens', await created('/api/auth/tokens', { name: 'fuzz token' }));
    fixtures.set('uploads', (await t.http.post('/api/upload').attach('file', PNG, 'logo.png').expect(200)).body.filename);
  }

  /** Follows $ref and flattens allOf; oneOf/anyOf take their first alternative. */
  function resolve(schema: Schema | undefined, depth = 0): Schema {
    if (!schema || typeof schema !== 'object' || depth > 20) return {};
    const { $ref, allOf, oneOf, anyOf, ...rest } = schema;
    let merged: Schema = rest;
    if ($ref) {
      const target = $ref
        .replace(/^#\//, '')
        .split('/')
        .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key.replace(/~1/g, '/').replace(/~0/g, '~')], document);
      merged = { ...resolve(target as Schema, depth + 1), ...merged };
    }
    for (const part of allOf ?? []) {
      const resolved = resolve(part, depth + 1);
      merged = {
        ...resolved,
        ...merged,
        properties: { ...resolved.properties, ...merged.properties },
        required: [...(resolved.required ?? []), ...(merged.required ?? [])],
      };
    }
    const alternative = (oneOf ?? anyOf)?.[0];
    return alternative ? { ...resolve(alternative, depth + 1), ...merged } : merged;
  }

  function typeOf(schema: Schema): string {
    if (schema.type) return schema.type;
    if (schema.properties) return 'object';
    if (schema.items) return 'array';
    return schema.enum ? typeof schema.enum[0] : 'string';
  }

  /** A plausible value for a field: the overrides that keep everything on loopback first, then the schema's hints. */
  function sample(raw: Schema | undefined, name: string, requiredOnly: boolean, depth = 0): unknown {
    const schema = resolve(raw);
    if (isHostField(name)) return '127.0.0.1';
    if (isPortField(name)) return closedPorts[0];
    // The admin's own: a valid-ish password change keeps the password the walk signs in with.
    if (name === 'current_password' || name === 'new_password') return adminPassword;
    if (schema.example !== undefined) return schema.example;
    if (schema.default !== undefined) return schema.default;
    if (schema.enum?.length) return schema.enum[0];
    switch (typeOf(schema)) {
      case 'integer':
      case 'number':
        return Math.min(Math.max(1, schema.minimum ?? 1), schema.maximum ?? Infinity);
      case 'boolean':
        return true;
      case 'array':
        return depth > 4 ? [] : [sample(schema.items, name, requiredOnly, depth + 1)];
      case 'object': {
        if (depth > 4) return {};
        const value: Record<string, unknown> = {};
        for (const [key, property] of Object.entries(schema.properties ?? {})) {
          if (requiredOnly && !schema.required?.includes(key)) continue;
          value[key] = sample(property, key, requiredOnly, depth + 1);
        }
        return value;
      }
      default:
        if (schema.format === 'binary') return PNG;
        if (schema.format === 'date-time') return '2099-01-01T00:00:00.000Z';
        if (schema.format === 'date') return '2099-01-01';
        if (schema.format === 'password') return 'fuzz-password';
        return `fuzz${++unique}`.padEnd(schema.minLength ?? 0, 'x').slice(0, schema.maxLength ?? Infinity);
    }
  }

  const isBinary = (schema: Schema) => resolve(schema).format === 'binary';

  /** The JSON value without multipart-only file fields. */
  function jsonSample(schema: Schema, requiredOnly: boolean): unknown {
    const value = sample(schema, '', requiredOnly);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
    const properties = resolve(schema).properties ?? {};
    return Object.fromEntries(Object.entries(value).filter(([key]) => !properties[key] || !isBinary(properties[key])));
  }

  /** Field paths to mutate: each property, and one level into objects and arrays of objects. */
  function fieldPaths(raw: Schema, prefix: (string | number)[] = [], depth = 0): { path: (string | number)[]; schema: Schema }[] {
    const schema = resolve(raw);
    if (typeOf(schema) === 'array') return depth > 1 ? [] : fieldPaths(schema.items ?? {}, [...prefix, 0], depth + 1);
    return Object.entries(schema.properties ?? {})
      .filter(([, property]) => !isBinary(property))
      .flatMap(([key, property]) => [
        { path: [...prefix, key], schema: resolve(property) },
        ...(depth > 1 ? [] : fieldPaths(property, [...prefix, key], depth + 1)),
      ]);
  }

  function withValue(base: unknown, full: unknown, path: (string | number)[], value: unknown): unknown {
    const root = structuredClone(base) as Record<string | number, unknown>;
    const top = path[0];
    if (root[top] === undefined) root[top] = structuredClone((full as Record<string | number, unknown>)[top]);
    let node = root;
    for (const key of path.slice(0, -1)) {
      if (typeof node[key] !== 'object' || node[key] === null) return undefined;
      node = node[key] as Record<string | number, unknown>;
    }
    const last = path[path.length - 1];
    if (value === ABSENT) delete node[last];
    else node[last] = value;
    return root;
  }

  /** Wrong types for every field, odd contents and bounds for its own type. */
  function valueMutations(schema: Schema, name: string): [string, unknown][] {
    const valid = sample(schema, name, true);
    const all: [string, unknown][] = [...ANY_FIELD, ['the valid value in an array', [valid]]];
    switch (typeOf(schema)) {
      case 'integer':
      case 'number':
        all.push(...ODD_NUMBERS, ...NUMERIC_STRINGS, ['true', true]);
        if (schema.maximum !== undefined) all.push(['maximum + 1', schema.maximum + 1]);
        if (schema.minimum !== undefined) all.push(['minimum - 1', schema.minimum - 1]);
        break;
      case 'boolean':
        all.push(['"true"', 'true'], ['"false"', 'false'], ['0', 0], ['1', 1], ['""', '']);
        break;
      case 'array':
        all.push(
          ['[null]', [null]],
          ['duplicate items', [valid, valid].flat()],
          ['nested in another array', [valid]],
          ['"x"', 'x'],
          ['1', 1],
          ['true', true],
        );
        if (schema.maxItems !== undefined && schema.maxItems <= 10_000)
          all.push(['maxItems + 1 items', Array.from({ length: schema.maxItems + 1 }, () => (valid as unknown[])[0])]);
        break;
      case 'object':
        all.push(['"x"', 'x'], ['1', 1], ['true', true]);
        break;
      default: {
        const junk = Array.from({ length: 64 }, () => String.fromCharCode(Math.floor(random() * 0x10000))).join('');
        all.push(...ODD_STRINGS, ['random code units', junk], ['0', 0], ['true', true]);
        if (schema.enum?.length) all.push(['not in the enum', 'zzz'], ['enum value upper-cased', String(schema.enum[0]).toUpperCase()]);
        if (schema.maxLength !== undefined && schema.maxLength < 10_000) all.push(['maxLength + 1 chars', 'x'.repeat(schema.maxLength + 1)]);
        if (schema.format === 'date-time' || schema.format === 'date') all.push(...DATES);
      }
    }
    return isHostField(name) ? all.filter(([, value]) => isHostSafe(value)) : all;
  }

  const json = (value: unknown, mutation: string): Probe => ({
    mutation,
    path: {},
    query: '',
    body: { kind: 'text', contentType: 'application/json', text: toJson(value), value },
  });
  const text = (mutation: string, contentType: string, body: string, headers?: Record<string, string>): Probe => ({
    mutation,
    path: {},
    query: '',
    body: { kind: 'text', contentType, text: body, headers },
  });

  function jsonProbes(schema: Schema): Probe[] {
    const base = jsonSample(schema, true);
    const full = jsonSample(schema, false);
    const encoded = toJson(base);
    const probes = [json(base, 'valid-ish (required fields)'), json(full, 'valid-ish (all fields)')];
    if (typeof base === 'object' && base !== null) {
      for (const { path, schema: field } of fieldPaths(schema)) {
        for (const [label, value] of valueMutations(field, String(path[path.length - 1]))) {
          const body = withValue(base, full, path, value);
          if (body !== undefined) probes.push(json(body, `${path.join('.')} = ${label}`));
        }
      }
    }
    const object = typeof base === 'object' && base !== null && !Array.isArray(base) ? base : {};
    probes.push(...enumVariantProbes(schema, full));
    probes.push(
      json({}, 'body {}'),
      json([], 'body []'),
      json([base], 'body [valid]'),
      json('x', 'body "x"'),
      json(42, 'body 42'),
      json(null, 'body null'),
      json(true, 'body true'),
      json(DEEP_ARRAYS, 'body 5000 nested arrays'),
      json(DEEP_OBJECTS, 'body 5000 nested objects'),
      json({ ...object, zzz_unknown: 1 }, 'unknown extra field'),
      json({ ...object, constructor: { prototype: { polluted: true } } }, 'constructor.prototype field'),
      text('__proto__ field', 'application/json', `${encoded.replace(/}$/, '')}${encoded.length > 2 ? ',' : ''}"__proto__":{"polluted":true}}`),
      text('empty body', 'application/json', ''),
      text('malformed JSON', 'application/json', '{"name":'),
      text('trailing garbage', 'application/json', `${encoded}x`),
      text('single quotes', 'application/json', "{'name':'x'}"),
      text('NUL byte', 'application/json', '\u0000'),
      text('BOM before JSON', 'application/json', `\ufeff${encoded}`),
      text('charset=utf-16', 'application/json; charset=utf-16', encoded),
      text('Content-Encoding gzip (not gzipped)', 'application/json', encoded, { 'Content-Encoding': 'gzip' }),
      text('Content-Encoding br', 'application/json', encoded, { 'Content-Encoding': 'br' }),
      text('text/plain', 'text/plain', encoded),
      text('application/xml', 'application/xml', '<fuzz><name>x</name></fuzz>'),
      text(
        'application/x-www-form-urlencoded',
        'application/x-www-form-urlencoded',
        new URLSearchParams(Object.entries(object).map(([key, value]): [string, string] => [key, String(value)])).toString(),
      ),
      text('urlencoded nested keys', 'application/x-www-form-urlencoded', 'a[b][c]=1&__proto__[x]=1&name=x&name=y'),
      {
        mutation: 'multipart/form-data',
        path: {},
        query: '',
        body: { kind: 'multipart', parts: Object.entries(object).map(([name, value]) => ({ name, value: String(value) })) },
      },
    );
    return probes;
  }

  /**
   * An enum value other than the first can switch other rules on (a cron schedule, key authentication): under each
   * one, the other string fields get odd contents again.
   */
  function enumVariantProbes(raw: Schema, full: unknown): Probe[] {
    const properties = Object.entries(resolve(raw).properties ?? {}).map(([key, property]): [string, Schema] => [key, resolve(property)]);
    const strings = properties.filter(
      ([key, property]) => typeOf(property) === 'string' && !property.enum && property.format !== 'binary' && !isHostField(key),
    );
    return properties
      .filter(([, property]) => (property.enum?.length ?? 0) > 1)
      .flatMap(([key, property]) =>
        property.enum!.slice(1).flatMap((choice) => {
          const variant = withValue(full, full, [key], choice);
          return [
            json(variant, `valid-ish (all fields), ${key} = ${String(choice)}`),
            ...strings.flatMap(([other]) =>
              VARIANT_STRINGS.map(([label, value]) =>
                json(withValue(variant, full, [other], value), `${key} = ${String(choice)}, ${other} = ${label}`),
              ),
            ),
          ];
        }),
      );
  }

  function multipartProbes(raw: Schema): Probe[] {
    const schema = resolve(raw);
    const properties = Object.entries(schema.properties ?? {});
    const required = new Set(schema.required ?? []);
    const partsFor = (requiredOnly: boolean): Part[] =>
      properties
        .filter(([name]) => !requiredOnly || required.has(name))
        .map(([name, property]) =>
          isBinary(property)
            ? { name, value: PNG, filename: 'logo.png', contentType: 'image/png' }
            : { name, value: String(sample(property, name, true)) },
        );
    const base = partsFor(true);
    const multipart = (mutation: string, parts: Part[]): Probe => ({ mutation, path: {}, query: '', body: { kind: 'multipart', parts } });
    const replacing = (name: string, parts: Part[]) => [...base.filter((part) => part.name !== name), ...parts];
    const probes = [multipart('multipart valid-ish (required fields)', base), multipart('multipart valid-ish (all fields)', partsFor(false))];
    for (const [name, property] of properties) {
      if (isBinary(property)) {
        const file = (filename: string, value: Buffer, contentType = 'image/png'): Part => ({ name, value, filename, contentType });
        probes.push(
          multipart(`${name} absent`, replacing(name, [])),
          multipart(`${name} empty file`, replacing(name, [file('logo.png', Buffer.alloc(0))])),
          multipart(`${name} text named .png`, replacing(name, [file('logo.png', Buffer.from('not an image'))])),
          multipart(`${name} PNG named .exe`, replacing(name, [file('logo.exe', PNG, 'application/octet-stream')])),
          multipart(`${name} HTML named .png`, replacing(name, [file('logo.png', Buffer.from('<script>alert(1)</script>'), 'text/html')])),
          multipart(`${name} path traversal name`, replacing(name, [file('../../../package.json.png', PNG)])),
          multipart(`${name} bidi name`, replacing(name, [file('x\u202egnp.exe', PNG)])),
          multipart(`${name} 5000-char name`, replacing(name, [file(`${'x'.repeat(5000)}.png`, PNG)])),
          multipart(`${name} no name`, replacing(name, [file('', PNG)])),
          multipart(`${name} twice`, replacing(name, [file('a.png', PNG), file('b.png', PNG)])),
          multipart(`${name} as a text field`, replacing(name, [{ name, value: 'logo.png' }])),
        );
        continue;
      }
      const textValues: [string, string][] = [
        ['""', ''],
        ['10k chars', 'x'.repeat(10_000)],
        ['NUL', 'a\u0000b'],
        ['control chars', 'a\u0001\u001b[31m\r\nb'],
        ['bidi override', '\u202eabc'],
        ['zero-width space', '\u200b'],
        ['lone surrogate', '\ud800'],
        ['"null"', 'null'],
        ['"-1"', '-1'],
        ['JSON object text', '{"a":1}'],
      ];
      probes.push(
        multipart(`${name} absent`, replacing(name, [])),
        multipart(
          `${name} twice`,
          replacing(name, [
            { name, value: 'a' },
            { name, value: 'b' },
          ]),
        ),
        multipart(`${name} as a file`, replacing(name, [{ name, value: PNG, filename: 'logo.png', contentType: 'image/png' }])),
        ...textValues.map(([label, value]) => multipart(`${name} = ${label}`, replacing(name, [{ name, value }]))),
      );
    }
    probes.push(
      multipart('unknown text field', [...base, { name: 'zzz_unknown', value: '1' }]),
      multipart('unknown file field', [...base, { name: 'zzz_file', value: PNG, filename: 'x.png', contentType: 'image/png' }]),
      multipart('__proto__ field', [...base, { name: '__proto__', value: 'x' }]),
      text('multipart with no parts', 'multipart/form-data; boundary=x', '--x--\r\n'),
      text('multipart without boundary', 'multipart/form-data', '--x\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n--x--\r\n'),
      text('multipart truncated', 'multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="name"\r\n\r\nabc'),
      text('multipart garbage', 'multipart/form-data; boundary=x', '\u0000\u0001garbage'),
      text('multipart part without name', 'multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data\r\n\r\nabc\r\n--x--\r\n'),
    );
    return probes;
  }

  /** Every probe of an operation; the first is the valid-ish one, whose path and query the others reuse. */
  function probesFor(operation: Operation): Probe[] {
    const queryParameters = operation.parameters.filter((parameter) => parameter.in === 'query');
    const validQuery = queryParameters.map(
      (parameter) => `${parameter.name}=${encodeURIComponent(String(sample(parameter.schema, parameter.name, true)))}`,
    );
    const bodyProbes = operation.bodies.flatMap(({ contentType, schema }) =>
      contentType === 'multipart/form-data' ? multipartProbes(schema) : jsonProbes(schema),
    );
    const validBody = bodyProbes[0]?.body;
    const plain = (mutation: string, path: Record<string, string>, query: string, body = validBody): Probe => ({ mutation, path, query, body });
    const probes: Probe[] = bodyProbes.length ? bodyProbes : [plain('valid-ish', {}, '')];
    if (!bodyProbes.length && operation.method !== 'get') {
      probes.push(
        text('unexpected malformed JSON', 'application/json', '{"a":'),
        json(DEEP_ARRAYS, 'unexpected 5000 nested arrays'),
        text('unexpected text/plain', 'text/plain', 'x'),
      );
    }
    for (const parameter of operation.parameters.filter((candidate) => candidate.in === 'path')) {
      probes.push(...PATH_MUTATIONS.map(([label, value]) => plain(`${parameter.name}: ${label}`, { [parameter.name]: value }, '')));
    }
    for (const [index, parameter] of queryParameters.entries()) {
      const others = validQuery.filter((_, other) => other !== index);
      const schema = resolve(parameter.schema);
      const values: [string, string][] = [...QUERY_MUTATIONS, ['repeated', `1&${parameter.name}=2`], ['bracket object', '']];
      if (schema.maximum !== undefined) values.push(['maximum + 1', String(schema.maximum + 1)]);
      if (schema.minimum !== undefined) values.push(['minimum - 1', String(schema.minimum - 1)]);
      for (const [label, value] of values) {
        const pair = label === 'bracket object' ? `${parameter.name}[a]=1` : `${parameter.name}=${value}`;
        probes.push(plain(`?${parameter.name}: ${label}`, {}, [...others, pair].join('&')));
      }
    }
    probes.push(plain('unknown query parameters', {}, [...validQuery, 'zzz_unknown=1', '__proto__[x]=1'].join('&')));
    // The body probes carry no query: give them the valid one.
    return probes.map((probe) => (probe.query || !validQuery.length ? probe : { ...probe, query: validQuery.join('&') }));
  }

  function urlOf(operation: Operation, probe: Probe): string {
    const path = operation.path.replace(/\{([^}]+)\}/g, (_match, name: string) => {
      if (probe.path[name] !== undefined) return probe.path[name];
      const segments = operation.path.split('/');
      return encodeURIComponent(fixtures.get(segments[segments.indexOf(`{${name}}`) - 1]) ?? '1');
    });
    return probe.query ? `${path}?${probe.query}` : path;
  }

  function call(operation: Operation, probe: Probe): Test {
    const request = t.http[operation.method](urlOf(operation, probe)).set('Authorization', `Bearer ${token}`).timeout(REQUEST_TIMEOUT_MS);
    const body = probe.body;
    if (!body) return request;
    if (body.kind === 'multipart') {
      for (const part of body.parts) {
        if (part.filename !== undefined) request.attach(part.name, part.value, { filename: part.filename, contentType: part.contentType });
        else request.field(part.name, part.value as string);
      }
      return request;
    }
    request.set('Content-Type', body.contentType);
    for (const [name, value] of Object.entries(body.headers ?? {})) request.set(name, value);
    return request.send(body.text);
  }

  const describeBody = (body?: Body) =>
    !body
      ? ''
      : body.kind === 'text'
        ? `${body.contentType}: ${printable(truncate(body.text, 160))}`
        : `multipart: ${body.parts.map((part) => `${part.name}${part.filename !== undefined ? `=<file "${printable(truncate(part.filename, 40))}", ${part.value.length} B>` : `="${printable(truncate(String(part.value), 40))}"`}`).join(' ')}`;

  /** Signs the admin in again, after a call that ended its session; false when that is no longer possible. */
  async function signIn(): Promise<boolean> {
    try {
      token = await t.login(TEST_ADMIN.username, adminPassword);
      return true;
    } catch {
      return false;
    }
  }

  /** Sends one probe; when a session-ending call revoked the admin's token, signs in again and resends it. */
  async function send(operation: Operation, probe: Probe): Promise<Response | Error> {
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await call(operation, probe);
      } catch (error) {
        return error as Error;
      }
      const revoked = res.status === 401 && /invalid, expired or revoked/i.test(String(res.body?.error));
      if (!revoked || attempt > 0 || !(await signIn())) return res;
    }
  }

  /**
   * A 502/504 is the contract's answer when an upstream (SSH host, agent, model server) fails: every port here is
   * closed. The OpenAI-compatible routes give it in OpenAI's error shape, as their clients expect.
   */
  function isFailure(res: Response | Error): boolean {
    if (res instanceof Error) return true;
    if (res.status < 500) return false;
    const contractError = typeof res.body?.error === 'string' && res.body.statusCode === res.status;
    const openAiUpstreamError = res.body?.error?.type === 'upstream_error';
    return !((res.status === 502 || res.status === 504) && (contractError || openAiUpstreamError));
  }

  it('answers malformed input to every documented operation with a 4xx, never a 5xx, a hang or a dropped connection', async () => {
    const started = Date.now();
    const cpu = process.cpuUsage();
    expect(operations.length).toBeGreaterThan(50);
    const plans = operations.map((operation) => ({ operation, probes: probesFor(operation) }));
    const planned = plans.reduce((sum, plan) => sum + plan.probes.length, 0);
    if (planned > MAX_REQUESTS) {
      const share = (MAX_REQUESTS - plans.length) / (planned - plans.length);
      for (const plan of plans) {
        const [valid, ...rest] = plan.probes;
        const shuffled = rest.map((probe) => ({ probe, key: random() })).sort((a, b) => a.key - b.key);
        plan.probes = [valid, ...shuffled.slice(0, Math.ceil(rest.length * share)).map(({ probe }) => probe)];
      }
    }
    const reached = new Set<string>();
    const durations: [string, number][] = [];
    let sent = 0;
    /** Requests answered with a 5xx, failing or an upstream's: their errors are expected in the log. */
    const answered5xx = new Set<number>();
    let upstreamFailures = 0;
    walk: for (const { operation, probes } of plans) {
      const name = nameOf(operation);
      const operationStarted = Date.now();
      let hangs = 0;
      for (const probe of probes) {
        errors.current = sent++;
        const res = await send(operation, probe);
        const answer = res instanceof Error ? undefined : res;
        const status =
          answer?.status ??
          ((res as { timeout?: unknown }).timeout ? 'hang' : `no response (${(res as { code?: string }).code ?? (res as Error).message})`);
        const bucket = typeof status === 'number' ? `${String(status)[0]}xx` : status.replace(/ \(.*/, '');
        statuses.set(bucket, (statuses.get(bucket) ?? 0) + 1);
        if (answer && answer.status < 300) reached.add(name);
        if (answer && answer.status >= 500) answered5xx.add(errors.current);
        if (answer && answer.status >= 500 && !isFailure(answer)) upstreamFailures++;
        if (isFailure(res)) {
          failures.push({
            operation: name,
            url: truncate(urlOf(operation, probe), 120),
            mutation: probe.mutation,
            body: describeBody(probe.body),
            status,
            response: answer ? printable(truncate(answer.text ?? '', 300)) : (res as Error).message,
            logs: errors.entries.filter((entry) => entry.request === errors.current).map((entry) => entry.text),
          });
        }
        if (status === 'hang' && ++hangs >= HANGS_PER_OPERATION) {
          console.warn(`${name}: skipped the rest of its probes after ${hangs} hangs`);
          break;
        }
        // Keep signing in with whatever a successful password change set.
        const sentValue = probe.body?.kind === 'text' ? (probe.body.value as { new_password?: unknown } | undefined) : undefined;
        if (answer && answer.status < 300 && typeof sentValue?.new_password === 'string') adminPassword = sentValue.new_password;
      }
      errors.current = -1;
      durations.push([`${name} (${probes.length})`, Date.now() - operationStarted]);
      // The walk is only meaningful while it runs as the admin: a probe that demoted or disabled it ends the walk.
      let me = await t.http.get('/api/auth/me').set('Authorization', `Bearer ${token}`).timeout(REQUEST_TIMEOUT_MS);
      if (me.status === 401 && (await signIn()))
        me = await t.http.get('/api/auth/me').set('Authorization', `Bearer ${token}`).timeout(REQUEST_TIMEOUT_MS);
      if (me.body?.role !== 'admin') {
        failures.push({
          operation: name,
          url: '',
          mutation: 'after this operation',
          body: '',
          status: me.status,
          response: `the walk lost its admin (walk stopped): ${me.text}`,
          logs: [],
        });
        break walk;
      }
    }
    // Errors of work a request started and left running (a deploy, a status refresh): worth reading, not failures.
    const background = errors.entries.filter((entry) => !answered5xx.has(entry.request));
    console.log(
      [
        `fuzz seed ${SEED}: ${sent} requests (${planned} planned) to ${operations.length} operations in ${((Date.now() - started) / 1000).toFixed(1)} s (${(Object.values(process.cpuUsage(cpu)).reduce((sum, us) => sum + us, 0) / 1e6).toFixed(1)} s of CPU)`,
        `answers: ${[...statuses].map(([status, count]) => `${status} ×${count}`).join(', ')}; upstream 502/504 accepted: ${upstreamFailures}`,
        `operations that never answered 2xx: ${
          operations
            .map(nameOf)
            .filter((name) => !reached.has(name))
            .join(', ') || 'none'
        }`,
        `slowest: ${durations
          .sort((a, b) => b[1] - a[1])
          .slice(0, 6)
          .map(([operation, ms]) => `${operation} ${(ms / 1000).toFixed(1)} s`)
          .join(', ')}`,
        ...(background.length
          ? [`errors logged by background work (${background.length}):`, ...background.slice(0, 10).map((entry) => truncate(entry.text, 600))]
          : []),
      ].join('\n'),
    );
    // Thrown rather than compared with [], so that jest prints the report as it is rather than as an escaped string.
    if (failures.length) throw new Error(`${failures.length} of ${sent} requests failed, by cause:\n\n${report(failures).join('\n\n')}`);
    // A walk stopped at the door (every probe refused before its handler) would pass without testing anything.
    expect(reached.size).toBeGreaterThan(operations.length / 2);
  }, 600_000);

  it('contacts nothing but loopback', () => {
    expect(guard.refused).toEqual([]);
  });
});

const nameOf = ({ method, path }: Operation) => `${method.toUpperCase()} ${path}`;

function truncate(value: string, max: number): string {
  return value.length > max ? `${value.slice(0, max)}… (${value.length} chars)` : value;
}

/** Control, bidi, zero-width and surrogate code units as escapes, so that a report prints what was sent. */
function printable(value: string): string {
  return value.replace(
    /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufeff]/g,
    (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** The logged error's message and innermost frame, or else the answer itself. */
function causeOf(failure: Failure): string {
  const lines = failure.logs[0]?.split('\n') ?? [];
  const error = lines.find((line) => /^\w*(Error|Exception)\b/.test(line));
  const frame = lines
    .find((line) => /^\s+at /.test(line))
    ?.trim()
    .replace(/^at /, 'in ');
  return error ? `${failure.status} ${error} ${frame ?? ''}` : `${failure.status}: ${truncate(failure.response, 200)}`;
}

/** A stack with runs of the same frame (a recursion) folded into one line. */
function fold(log: string): string {
  const lines: string[] = [];
  let repeats = 0;
  for (const line of log.split('\n')) {
    if (line === lines[lines.length - 1]) repeats++;
    else {
      if (repeats) lines.push(`      (the frame above ${repeats} more times)`);
      repeats = 0;
      lines.push(line);
    }
  }
  if (repeats) lines.push(`      (the frame above ${repeats} more times)`);
  // Jest takes lines starting with "at" for its own stack and moves them.
  return lines
    .slice(0, 10)
    .map((line) => line.replace(/^\s+at /, '      ↳ '))
    .join('\n    ');
}

/** One entry per cause, naming every operation and mutation that hit it. */
function report(failures: Failure[]): string[] {
  const groups = new Map<string, Failure[]>();
  for (const failure of failures) groups.set(causeOf(failure), [...(groups.get(causeOf(failure)) ?? []), failure]);
  return [...groups].map(([cause, group]) => {
    const byOperation = new Map<string, string[]>();
    for (const failure of group) byOperation.set(failure.operation, [...(byOperation.get(failure.operation) ?? []), failure.mutation]);
    const [first] = group;
    return [
      `${cause} (×${group.length})`,
      ...[...byOperation].map(([operation, mutations]) => `  ${operation}: ${truncate(mutations.join(' | '), 400)}`),
      `  e.g. ${first.url} ${truncate(first.body, 200)}`,
      `  answer: ${first.response}`,
      ...(first.logs.length ? [`  log: ${fold(first.logs[0])}`] : []),
    ].join('\n');
  });
}
