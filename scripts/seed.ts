import { DEPLOYMENTS, demoRecords, MAILBOXES, REGION_SETTINGS, SUPPRESSIONS } from './demo-data.js';

async function call(base: string, token: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** Seeds the demo data through the public API, once: returns false when it was already there. */
export async function seedDemoData(
  base: string,
  token: string,
  log: (line: string) => void = console.log,
): Promise<boolean> {
  const probe = await fetch(`${base}/api/v1/deployments/contoso`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (probe.ok) return false;
  for (const r of REGION_SETTINGS) await call(base, token, 'PUT', `/api/v1/regions/${r.id}`, r);
  for (const d of DEPLOYMENTS) await call(base, token, 'PUT', `/api/v1/deployments/${d.id}`, d);
  for (const m of MAILBOXES)
    await call(base, token, 'PUT', `/api/v1/mailboxes/${encodeURIComponent(m.address)}`, {
      region: m.region,
      deployment: m.deployment,
      userId: m.userId,
      filter: m.filter,
    });
  let records = 0;
  for (const d of DEPLOYMENTS) {
    const list = demoRecords(d.id);
    await call(base, token, 'POST', `/api/v1/deployments/${d.id}/records`, { records: list });
    records += list.length;
    await call(base, token, 'POST', `/api/v1/deployments/${d.id}/suppressions`, {
      entries: SUPPRESSIONS[d.id],
    });
  }
  log(
    `seeded demo data: ${DEPLOYMENTS.length} deployments, ${REGION_SETTINGS.length} regions, ${MAILBOXES.length} mailboxes, ${records} records`,
  );
  return true;
}
