// Global setup of the central project: a real HTTP server on loopback standing in for a tenant's
// CRM endpoint (workerd's fetch reaches it like any host), for the webhook and connector tests. It
// records every path it is asked for, so a test can prove a redirect target was never fetched.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestProject } from 'vitest/node';
import { CRM_ANSWER_SECRET, INTERNAL_SECRET } from './crm-answers.js';

export default async function setup(project: TestProject) {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    if (path === '/hits') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(hits));
      return;
    }
    hits.push(path);
    req.resume();
    const { port } = server.address() as AddressInfo;
    if (path.startsWith('/redirect'))
      res.writeHead(302, { location: `http://127.0.0.1:${port}/internal` }).end(CRM_ANSWER_SECRET);
    else if (path.startsWith('/internal')) res.writeHead(200).end(INTERNAL_SECRET);
    else if (path.startsWith('/error')) res.writeHead(500).end(CRM_ANSWER_SECRET);
    else if (path.startsWith('/gone')) res.writeHead(410).end(CRM_ANSWER_SECRET);
    // Connector faults (test/central/connectors.test.ts): refused credentials, a rate limit with
    // its Retry-After, a permanent refusal of the payload.
    else if (path.startsWith('/unauthorized')) res.writeHead(401).end(CRM_ANSWER_SECRET);
    else if (path.startsWith('/forbidden')) res.writeHead(403).end(CRM_ANSWER_SECRET);
    else if (path.startsWith('/rate-limited'))
      res.writeHead(429, { 'retry-after': '120' }).end(CRM_ANSWER_SECRET);
    else if (path.startsWith('/unprocessable')) res.writeHead(422).end(CRM_ANSWER_SECRET);
    else res.writeHead(200).end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  project.provide('crmReceiver', `http://127.0.0.1:${port}`);
  return () => new Promise<void>((resolve) => server.close(() => resolve()));
}
