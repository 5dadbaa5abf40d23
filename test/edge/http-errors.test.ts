// Every error the edge answers over HTTP is one of src/edge/http/errors.ts's codes, with that code's
// status and the one body shape `{ error: { code, message, requestId } }`.
import { describe, expect, test } from 'vitest';
import { EDGE_ERROR_STATUS } from '../../src/edge/http/errors.js';
import worker from '../../src/edge/index.js';
import { ctx, edgeEnv } from './helpers.js';

const call = (path: string, init?: RequestInit) =>
  worker.fetch!(
    new Request(`http://edge.localhost${path}`, init) as Request<unknown, IncomingRequestCfProperties>,
    edgeEnv,
    ctx,
  );

const ERRORS: [string, RequestInit | undefined, number][] = [
  ['/no/such/route', undefined, 404],
  ['/raw/%', undefined, 400],
  ['/raw/us/x.eml', undefined, 401],
  [`/raw/us/x.eml?exp=${Date.now() + 60_000}&sig=00`, undefined, 403],
  ['/api/v1/inbound', { method: 'POST' }, 401],
  ['/api/v1/inbound', { method: 'POST', headers: { authorization: 'Bearer crt_short' } }, 401],
];

describe('edge error answers', () => {
  test.each(ERRORS)('%s answers %i with a known code whose status it is', async (path, init, status) => {
    const res = await call(path, init);
    expect(res.status).toBe(status);
    const body = (await res.json()) as { error: { code: keyof typeof EDGE_ERROR_STATUS; message: string } };
    expect(body).toEqual({
      error: { code: expect.any(String), message: expect.any(String), requestId: expect.any(String) },
    });
    expect(EDGE_ERROR_STATUS[body.error.code]).toBe(status);
  });

  test('a misconfigured edge answers 503 misconfigured on every route', async () => {
    const res = await worker.fetch!(
      new Request('http://edge.localhost/health') as Request<unknown, IncomingRequestCfProperties>,
      { ...edgeEnv, EDGE_SIGNING_KEY: '' },
      ctx,
    );
    expect(res.status).toBe(EDGE_ERROR_STATUS.misconfigured);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('misconfigured');
  });
});
