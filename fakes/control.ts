// The CRM fakes' control endpoints (`<base>/t/<tenant>/__fake/<name>`: seed, touch, archive,
// faults, log), called by the test suites and the benchmarks alike. Plain fetch: it runs in Node
// and in workerd.

/** Calls a fake's control endpoint of one tenant; GET without a body, POST with one. */
export async function fakeControl<T = unknown>(tenantBase: string, name: string, body?: unknown): Promise<T> {
  const res = await fetch(`${tenantBase}/__fake/${name}`, {
    method: body === undefined ? 'GET' : 'POST',
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  if (!res.ok) throw new Error(`fake ${name}: ${res.status} ${await res.text()}`);
  return (res.status === 204 ? undefined : await res.json()) as T;
}
