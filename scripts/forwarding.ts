// The forwarding addresses senders must mail (design §4): an edge accepts mail only for its
// region's forwarding address of a deployment. Read from central, as a rule script would be.

/** `{ region: address }` of a deployment, from GET /api/v1/deployments/:id (admin or deployment token). */
export async function fetchForwardingAddresses(
  centralUrl: string,
  token: string,
  deployment: string,
): Promise<Record<string, string>> {
  const res = await fetch(
    `${centralUrl.replace(/\/+$/, '')}/api/v1/deployments/${encodeURIComponent(deployment)}`,
    {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(30_000),
    },
  );
  const text = await res.text();
  if (!res.ok) throw new Error(`GET /api/v1/deployments/${deployment}: ${res.status} ${text.slice(0, 300)}`);
  const body = JSON.parse(text) as { forwardingAddresses?: Record<string, string> };
  if (!body.forwardingAddresses)
    throw new Error(`deployment ${deployment} has no forwardingAddresses (use an admin or deployment token)`);
  return body.forwardingAddresses;
}

/** Forwarding addresses of several deployments: `{ deployment: { region: address } }`. */
export async function fetchAllForwardingAddresses(
  centralUrl: string,
  token: string,
  deployments: Iterable<string>,
): Promise<Record<string, Record<string, string>>> {
  const out: Record<string, Record<string, string>> = {};
  for (const d of new Set(deployments)) out[d] = await fetchForwardingAddresses(centralUrl, token, d);
  return out;
}
