/** A round trip to D1 (the health check answers only once the database does). */
export async function pingDatabase(d1: D1Database): Promise<void> {
  await d1.prepare('select 1').first();
}
