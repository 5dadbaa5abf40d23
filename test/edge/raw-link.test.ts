// GET /raw/… (signed links to regional raw copies): a path a client mangled is its mistake (4xx).
import { describe, expect, test } from 'vitest';
import { signRawLink } from '../../src/core/raw-link.js';
import { readEdgeConfig } from '../../src/edge/config.js';
import worker from '../../src/edge/index.js';
import { ctx, edgeEnv } from './helpers.js';

const get = (path: string) =>
  worker.fetch!(
    new Request(`http://edge.localhost${path}`) as Request<unknown, IncomingRequestCfProperties>,
    edgeEnv,
    ctx,
  );

describe('GET /raw/…', () => {
  test.each(['%', '%E0%A4%A', 'a%zz', '%C0%80', 'raw/%ff'])(
    'a malformed percent-escape in the key (%s) is a 400 bad_request, not a 500',
    async (key) => {
      const res = await get(`/raw/${key}?exp=${Date.now() + 60_000}&sig=${'0'.repeat(64)}`);
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({
        error: {
          code: 'bad_request',
          message: expect.stringMatching(/percent-escape/),
          requestId: expect.any(String),
        },
      });
    },
  );

  test('a well-formed escaped key still resolves through its signature', async () => {
    const key = 'raw/a b%/1';
    await edgeEnv.RAW.put(key, 'x');
    const exp = Date.now() + 60_000;
    const sig = await signRawLink(readEdgeConfig(edgeEnv).signingKey, key, exp);
    const res = await get(`/raw/${encodeURIComponent(key)}?exp=${exp}&sig=${sig}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('x');
  });
});
