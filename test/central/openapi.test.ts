import { describe, expect, test } from 'vitest';
import { api } from './helpers.js';

/** Every route of design §4, plus the control-plane additions. */
const CONTRACT: [method: string, path: string][] = [
  ['get', '/health'],
  ['put', '/api/v1/deployments/{id}'],
  ['put', '/api/v1/regions/{id}'],
  ['put', '/api/v1/mailboxes/{address}'],
  ['post', '/api/v1/deployments/{id}/records'],
  ['post', '/api/v1/deployments/{id}/suppressions'],
  ['post', '/api/v1/deployments/{id}/outbound'],
  ['post', '/api/v1/deployments/{id}/promote'],
  ['get', '/api/v1/activities'],
  ['get', '/api/v1/activities/{id}'],
  ['get', '/api/v1/dispositions'],
  ['get', '/api/v1/stats'],
  ['get', '/api/v1/dead-letters'],
  ['post', '/api/v1/dead-letters/{id}/replay'],
  ['post', '/api/v1/tokens'],
  ['delete', '/api/v1/tokens/{id}'],
  ['get', '/api/v1/openapi.json'],
  ['post', '/api/v1/ingest'],
  ['get', '/api/v1/edge/snapshot'],
  // Control plane additions.
  ['get', '/api/v1/deployments/{id}'],
  ['get', '/api/v1/deployments'],
  ['get', '/api/v1/regions/{id}'],
  ['get', '/api/v1/regions'],
  ['get', '/api/v1/regions/{id}/rules'],
  ['get', '/api/v1/mailboxes/{address}'],
  ['delete', '/api/v1/mailboxes/{address}'],
  ['get', '/api/v1/mailboxes'],
  ['get', '/api/v1/deployments/{id}/records'],
  // issue 13: records that follow the CRM, mailboxes in bulk
  ['delete', '/api/v1/deployments/{id}/records/{type}/{recordId}'],
  ['post', '/api/v1/deployments/{id}/records/delete'],
  ['post', '/api/v1/deployments/{id}/records/deactivate'],
  ['post', '/api/v1/deployments/{id}/record-syncs'],
  ['get', '/api/v1/deployments/{id}/record-syncs/{syncId}'],
  ['post', '/api/v1/deployments/{id}/record-syncs/{syncId}/complete'],
  ['post', '/api/v1/mailboxes'],
  ['post', '/api/v1/mailboxes/move'],
  ['get', '/api/v1/deployments/{id}/suppressions'],
  ['delete', '/api/v1/deployments/{id}/suppressions/{entry}'],
  ['get', '/api/v1/tokens'],
];

describe('GET /api/v1/openapi.json', () => {
  test('is public and describes every route of the HTTP contract', async () => {
    const res = await api('GET', '/api/v1/openapi.json', { token: null });
    expect(res.status).toBe(200);
    const doc = res.json;
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info).toMatchObject({ title: 'crm-edge-router central API', version: '1' });
    expect(doc.components.securitySchemes).toEqual({
      bearer: { type: 'http', scheme: 'bearer', description: expect.any(String) },
    });
    expect(doc.security).toEqual([{ bearer: [] }]);
    const missing = CONTRACT.filter(([method, path]) => !doc.paths[path]?.[method]);
    expect(missing).toEqual([]);
  });

  test('the document itself is marked public, the rest needs the bearer scheme', async () => {
    const doc = (await api('GET', '/api/v1/openapi.json', { token: null })).json;
    expect(doc.paths['/api/v1/openapi.json'].get.security).toEqual([]);
    expect(doc.paths['/api/v1/deployments/{id}'].put.security).toEqual([{ bearer: [] }]);
  });

  test('request bodies carry their schemas, including CSV and raw-message bodies', async () => {
    const doc = (await api('GET', '/api/v1/openapi.json', { token: null })).json;
    expect(Object.keys(doc.paths['/api/v1/deployments/{id}/records'].post.requestBody.content)).toEqual([
      'application/json',
      'text/csv',
    ]);
    expect(doc.components.schemas.RecordsInput.properties.records.type).toBe('array');
    expect(Object.keys(doc.paths['/api/v1/deployments/{id}/promote'].post.requestBody.content)).toEqual([
      'message/rfc822',
    ]);
    expect(
      doc.paths['/api/v1/deployments/{id}/outbound'].post.requestBody.content['application/json'].schema,
    ).toEqual({
      $ref: '#/components/schemas/OutboundInput',
    });
  });

  test('the rest of /api/v1 still needs a token', async () => {
    expect((await api('GET', '/api/v1/deployments', { token: null })).status).toBe(401);
    expect((await api('GET', '/api/v1/openapi.json/x', { token: null })).status).toBe(401);
  });
});

describe('GET /api/docs', () => {
  test('is a readable, script-free HTML reference rendered from the document', async () => {
    const res = await api('GET', '/api/docs', { token: null });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/]+=*'/);
    expect(res.text).not.toMatch(/<script/i);
    expect(res.text).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
    for (const [method, path] of CONTRACT)
      expect(res.text).toContain(`<span class="m ${method}">${method}</span> <code>${path}</code>`);
    expect(res.text).toContain('<h3>RecordsInput</h3>');
    // The CSP names the hash of the page's one stylesheet, byte for byte.
    const style = /<style>([^<]*)<\/style>/.exec(res.text)?.[1] ?? '';
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(style)));
    expect(csp).toContain(`'sha256-${btoa(String.fromCharCode(...digest))}'`);
    expect(res.text).toContain('<a href="#schema-RecordsInput">RecordsInput</a>');
  });

  test('text from the document is escaped', async () => {
    const res = await api('GET', '/api/docs', { token: null });
    expect(res.text).toContain('<code>Authorization: Bearer &lt;token&gt;</code>');
    expect(res.text).not.toContain('Bearer <token>');
  });
});
