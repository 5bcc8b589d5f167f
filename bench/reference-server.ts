import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { killChild } from './child';
import { encodeRoutes, REFERENCE_HOST, ReferenceRoute } from './references/protocol';

export type { ReferenceRoute } from './references/protocol';

const REPO_ROOT = resolve(__dirname, '..');

export interface ReferenceServer {
  url: string;
  stop(): Promise<void>;
}

/** A server a backend endpoint is compared against: a script in bench/references/. */
export interface ReferenceKind {
  /** e.g. `bare Express`. */
  label: string;
  script: string;
}

/** From the most a Node process can serve to the frameworks the backend is built on. */
export const REFERENCE_KINDS = {
  nodeHttp: { label: 'bare node:http', script: 'node-http.ts' },
  express: { label: 'bare Express', script: 'express.ts' },
  nest: { label: 'bare Nest (Express)', script: 'nest.ts' },
} satisfies Record<string, ReferenceKind>;

/**
 * Starts a reference server answering GET on each route's path with its body from memory. Every kind runs the
 * same way, in its own process (so that it does not share an event loop with the load generator), with ts-node
 * compiling its script at startup only: what runs per request is plain JavaScript, as in the built backend.
 */
export async function startReferenceServer(kind: ReferenceKind, routes: ReferenceRoute[]): Promise<ReferenceServer> {
  const child = spawn(process.execPath, ['-r', require.resolve('ts-node/register/transpile-only'), join(__dirname, 'references', kind.script)], {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  child.stdin.end(encodeRoutes(routes));
  try {
    const port = await new Promise<number>((resolvePort, reject) => {
      let output = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        output += chunk;
        if (output.includes('\n')) resolvePort(Number(output.trim()));
      });
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`Reference server ${kind.label} exited during startup (code ${code})`)));
    });
    return { url: `http://${REFERENCE_HOST}:${port}`, stop: () => killChild(child) };
  } catch (error) {
    await killChild(child);
    throw error;
  }
}
