// The dashboard's token page mints relay tokens (relay:<deployment>) through the same service as
// POST /api/v1/tokens; a deployment's own session mints only its own deployment's.
import { describe, expect, test } from 'vitest';
import { signedIn } from './dashboard-browser.js';
import { api, freshBasics, mintToken } from './helpers.js';

const PLAINTEXT = /crt_[A-Za-z0-9_-]{43}/;

describe('dashboard: relay tokens', () => {
  test('the mint form offers the relay kind and mints relay:<deployment>', async () => {
    await freshBasics();
    const b = await signedIn(await mintToken('deployment:contoso'), '/deployments/tokens');
    const page = await b.get('/deployments/tokens');
    expect(page.html).toContain('value="relay"');
    const res = await b.post('/deployments/tokens', { kind: 'relay', deployment: 'contoso', label: 'relay' });
    expect(res.status).toBe(200);
    const token = res.html.match(PLAINTEXT)?.[0];
    expect(token).toBeDefined();
    const list = await api('GET', '/api/v1/tokens');
    expect(list.json.items.filter((t: { scope: string }) => t.scope === 'relay:contoso')).toHaveLength(1);
    const other = await b.post('/deployments/tokens', { kind: 'relay', deployment: 'fabrikam', label: '' });
    expect(other.status).toBeGreaterThanOrEqual(400);
    expect(other.html.match(PLAINTEXT)).toBeNull();
  });
});
