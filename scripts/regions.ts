// The local network's regions: one `[env.<region>]` of wrangler.edge.toml each. Every script,
// benchmark and test takes the list from here.
export const REGIONS = ['us', 'eu', 'apac'] as const;
export type Region = (typeof REGIONS)[number];

export function isRegion(value: string): value is Region {
  return (REGIONS as readonly string[]).includes(value);
}
