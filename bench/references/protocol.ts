import { once } from 'node:events';
import { Server } from 'node:http';
import { AddressInfo } from 'node:net';

/**
 * How the bench and a reference server (a script in this folder, run in a process of its own) talk: the bench
 * writes the routes as JSON on the server's stdin and closes it; the server listens on 127.0.0.1, on a port the OS
 * picks, and writes that port and a newline on stdout. Nothing else goes to stdout.
 */
export const REFERENCE_HOST = '127.0.0.1';

/**
 * A path the reference server answers GET on, with the very bytes the backend answered: its body, and its headers
 * (security, CORS, caching and content type: a floor that sent fewer headers would be doing less work) but those Node
 * writes itself per answer.
 */
export interface ReferenceRoute {
  /** e.g. `/api/brands`. */
  path: string;
  /** Name and value of each header, `Content-Type` among them, in the backend's order. */
  headers: [string, string][];
  body: Buffer;
}

/** Written by Node's HTTP server for every answer (or per connection): not the application's work. */
export const PER_ANSWER_HEADERS = new Set(['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding']);

interface WireRoute {
  path: string;
  headers: [string, string][];
  bodyBase64: string;
}

export function encodeRoutes(routes: ReferenceRoute[]): string {
  const wire: WireRoute[] = routes.map(({ path, headers, body }) => ({ path, headers, bodyBase64: body.toString('base64') }));
  return JSON.stringify(wire);
}

/**
 * The main of a reference server script: reads the routes from stdin, has `listen` serve them on
 * REFERENCE_HOST (port 0), and reports the port. A failure ends the process with its stack on stderr.
 */
export function serveReference(listen: (routes: ReferenceRoute[]) => Server | Promise<Server>): void {
  main(listen).catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  });
}

async function main(listen: (routes: ReferenceRoute[]) => Server | Promise<Server>): Promise<void> {
  const server = await listen(await readRoutes());
  if (!server.listening) await once(server, 'listening');
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
}

async function readRoutes(): Promise<ReferenceRoute[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const wire = JSON.parse(Buffer.concat(chunks).toString('utf8')) as WireRoute[];
  return wire.map(({ path, headers, bodyBase64 }) => ({ path, headers, body: Buffer.from(bodyBase64, 'base64') }));
}
