import { createServer } from 'node:http';
import { REFERENCE_HOST, serveReference } from './protocol';

// The most a Node process can serve on this machine: `node:http` and the bytes from memory, nothing in between.
serveReference((routes) => {
  const answers = new Map(routes.map(({ path, headers, body }) => [path, { headers: [...headers, ['Content-Length', String(body.length)]], body }]));
  const server = createServer((req, res) => {
    const answer = answers.get(req.url ?? '');
    if (!answer) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, answer.headers);
    res.end(answer.body);
  });
  return server.listen(0, REFERENCE_HOST);
});
