import { spawn } from 'node:child_process';
import { killChild } from './child';

export interface ReferenceServer {
  url: string;
  stop(): Promise<void>;
}

// Runs in its own process so that it does not share an event loop with the load generator.
// Reads the body from stdin, listens on a port the OS picks and reports that port on stdout.
const SERVER_SCRIPT = `
const http = require('node:http');
const chunks = [];
process.stdin.on('data', (chunk) => chunks.push(chunk));
process.stdin.on('end', () => {
  const body = Buffer.concat(chunks);
  const headers = { 'content-type': 'application/json', 'content-length': body.length };
  const server = http.createServer((req, res) => { res.writeHead(200, headers); res.end(body); });
  server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
});
`;

/**
 * Starts a bare `node:http` server answering every path with `body` from memory: the most a
 * Node process can serve on this machine, the ceiling a backend endpoint is compared against.
 */
export async function startReferenceServer(body: Buffer): Promise<ReferenceServer> {
  const child = spawn(process.execPath, ['-e', SERVER_SCRIPT], { stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdin.end(body);
  const port = await new Promise<number>((resolvePort, reject) => {
    let output = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      output += chunk;
      if (output.includes('\n')) resolvePort(Number(output.trim()));
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`Reference server exited during startup (code ${code})`)));
  });
  return { url: `http://127.0.0.1:${port}`, stop: () => killChild(child) };
}
