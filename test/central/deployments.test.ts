import { beforeEach, describe, expect, test } from 'vitest';
import { api, seedBasics } from './helpers.js';

describe('PUT /api/v1/deployments/:id', () => {
  beforeEach(seedBasics);

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
    const res = await api('PUT', '/api/v1/deployments/x', {
      raw: '{not json',
      headers: { 'content-type': 'application/json' },
    });
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
