import { beforeEach, describe, expect, test } from 'vitest';
import { api, expectError, expectInvalidField, freshBasics, mintToken } from './helpers.js';

describe('PUT /api/v1/deployments/:id', () => {
  beforeEach(freshBasics);

  test('creates a deployment with Dynamics-compatible token defaults', async () => {
    const res = await api('PUT', '/api/v1/deployments/northwind', { body: { name: 'Northwind' } });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      id: 'northwind',
      name: 'Northwind',
      trackingToken: { prefix: 'CRM:', userDigits: 3, counterDigits: 3 },
      attachmentPolicy: 'regional',
    });
    expect(res.json.trackingToken.deploymentBase).toBe(2);
  });

  test('a deployment base number already used is a 409 conflict', async () => {
    const res = await api('PUT', '/api/v1/deployments/northwind', {
      body: { name: 'Northwind', trackingToken: { deploymentBase: 0 } },
    });
    expect(res.status).toBe(409);
    expect(res.json.error).toMatchObject({ code: 'conflict' });
    expect(res.json.error.message).toContain('contoso');
  });

  test('invalid JSON is a 400 in the error envelope', async () => {
    const res = await api('PUT', '/api/v1/deployments/x', { raw: '{not json', type: 'application/json' });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('invalid_json');
    expect(res.json.error.requestId).toBeTruthy();
  });

  test('a missing field is a 400 that names the field', async () => {
    const res = await api('PUT', '/api/v1/deployments/x', { body: { nam: 'typo' } });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('validation_failed');
    expect(res.json.error.message).toContain('name');
  });

  test('no credentials is a 401', async () => {
    const res = await api('PUT', '/api/v1/deployments/x', { token: null, body: { name: 'X' } });
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe('unauthorized');
  });

  test('an unknown route is a 404 in the error envelope', async () => {
    const res = await api('GET', '/api/v1/nope');
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('not_found');
  });
});

describe('PUT /api/v1/deployments/:id (updates)', () => {
  beforeEach(freshBasics);

  test('a full update answers the whole deployment and keeps its base number', async () => {
    const res = await api('PUT', '/api/v1/deployments/contoso', {
      body: {
        name: 'Contoso Ltd',
        trackingToken: { prefix: 'CASE#', userDigits: 4, counterDigits: 5 },
        webhookUrl: 'https://crm.contoso.example/hooks/mail',
        maxMessageBytes: 10 * 1024 * 1024,
        attachmentPolicy: 'inline',
        smartMatch: true,
      },
    });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      id: 'contoso',
      name: 'Contoso Ltd',
      trackingToken: { prefix: 'CASE#', deploymentBase: 0, userDigits: 4, counterDigits: 5 },
      webhookUrl: 'https://crm.contoso.example/hooks/mail',
      maxMessageBytes: 10 * 1024 * 1024,
      attachmentPolicy: 'inline',
      smartMatch: true,
      // Shown once: this update set the webhook URL for the first time.
      retentionDays: null,
      webhookSecret: expect.stringMatching(/^[0-9a-f]{64}$/),
      domains: [],
      forwardingAddresses: {
        eu: expect.stringMatching(/^crm-[0-9a-f]{24}@eu\.edge\.crm-router\.example$/),
        us: expect.stringMatching(/^crm-[0-9a-f]{24}@us\.edge\.crm-router\.example$/),
      },
      createdAt: expect.any(Number),
      updatedAt: expect.any(Number),
    });
  });

  test('a partial update keeps the fields it leaves out', async () => {
    await api('PUT', '/api/v1/deployments/contoso', {
      body: { name: 'Contoso', webhookUrl: 'https://x.example/h', smartMatch: true },
    });
    const res = await api('PUT', '/api/v1/deployments/contoso', { body: { name: 'Renamed' } });
    expect(res.json).toMatchObject({ name: 'Renamed', webhookUrl: 'https://x.example/h', smartMatch: true });
  });

  test('changing a deployment bumps every region snapshot', async () => {
    const before = (await api('GET', '/api/v1/regions')).json.items.map(
      (r: { snapshotVersion: number }) => r.snapshotVersion,
    );
    await api('PUT', '/api/v1/deployments/contoso', { body: { name: 'Contoso' } });
    const after = (await api('GET', '/api/v1/regions')).json.items.map(
      (r: { snapshotVersion: number }) => r.snapshotVersion,
    );
    expect(after).toEqual(before.map((v: number) => v + 1));
  });

  test.each([
    [{ name: '' }, /^name: /],
    [{ name: 'X', trackingToken: { prefix: 'has space' } }, /^trackingToken\.prefix: /],
    [{ name: 'X', trackingToken: { userDigits: 10 } }, /^trackingToken\.userDigits: /],
    [{ name: 'X', webhookUrl: 'not a url' }, /^webhookUrl: /],
    [{ name: 'X', maxMessageBytes: 26 * 1024 * 1024 }, /^maxMessageBytes: /],
    [{ name: 'X', attachmentPolicy: 'cloud' }, /^attachmentPolicy: /],
  ])('the body %j is a 400 naming the field', async (body, message) => {
    const res = await api('PUT', '/api/v1/deployments/x', { body });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toMatch(message);
  });

  test('an id that is not lower-case letters, digits and dashes is a 400 naming id', async () => {
    const res = await api('PUT', '/api/v1/deployments/Bad_Id', { body: { name: 'X' } });
    expectInvalidField(res, 'id');
  });

  test('only admins may create or change deployments; nothing changes otherwise', async () => {
    const token = await mintToken('deployment:contoso');
    const res = await api('PUT', '/api/v1/deployments/contoso', { token, body: { name: 'Hijacked' } });
    expect(res.status).toBe(403);
    expect((await api('GET', '/api/v1/deployments/contoso')).json.name).toBe('Contoso');
  });
});

describe('GET /api/v1/deployments and /api/v1/deployments/:id', () => {
  beforeEach(freshBasics);

  test('an admin lists every deployment in id order', async () => {
    const res = await api('GET', '/api/v1/deployments');
    expect(res.status).toBe(200);
    expect(
      res.json.items.map((d: { id: string; trackingToken: { deploymentBase: number } }) => [
        d.id,
        d.trackingToken.deploymentBase,
      ]),
    ).toEqual([
      ['contoso', 0],
      ['fabrikam', 1],
    ]);
  });

  test('reads one deployment', async () => {
    const res = await api('GET', '/api/v1/deployments/fabrikam');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      id: 'fabrikam',
      name: 'Fabrikam',
      trackingToken: { prefix: 'CRM:', deploymentBase: 1, userDigits: 3, counterDigits: 3 },
      webhookUrl: null,
      maxMessageBytes: 25 * 1024 * 1024,
      attachmentPolicy: 'regional',
      smartMatch: false,
      domains: [],
      forwardingAddresses: {
        eu: expect.stringMatching(/^crm-[0-9a-f]{24}@eu\.edge\.crm-router\.example$/),
        us: expect.stringMatching(/^crm-[0-9a-f]{24}@us\.edge\.crm-router\.example$/),
      },
      retentionDays: null,
      createdAt: expect.any(Number),
      updatedAt: expect.any(Number),
    });
  });

  test('an unknown deployment is a 404', async () => {
    const res = await api('GET', '/api/v1/deployments/nowhere');
    expectError(res, 404, 'not_found', 'deployment nowhere does not exist');
  });

  test("a deployment token sees its own deployment only and gets 403 for another's", async () => {
    const token = await mintToken('deployment:fabrikam');
    expect(
      (await api('GET', '/api/v1/deployments', { token })).json.items.map((d: { id: string }) => d.id),
    ).toEqual(['fabrikam']);
    expect((await api('GET', '/api/v1/deployments/fabrikam', { token })).status).toBe(200);
    expect((await api('GET', '/api/v1/deployments/contoso', { token })).status).toBe(403);
  });

  test('an edge token may not list deployments', async () => {
    const token = await mintToken('edge:eu');
    expect((await api('GET', '/api/v1/deployments', { token })).status).toBe(403);
  });
});
