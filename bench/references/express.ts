import express from 'express';
import { REFERENCE_HOST, serveReference } from './protocol';

// A bare Express app (the backend's own copy from node_modules) set up as src/app.setup.ts sets Express up, one route a path.
serveReference((routes) => {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  for (const { path, headers, body } of routes) {
    app.get(path, (_req, res) => {
      for (const [name, value] of headers) res.setHeader(name, value);
      res.send(body);
    });
  }
  return app.listen(0, REFERENCE_HOST);
});
