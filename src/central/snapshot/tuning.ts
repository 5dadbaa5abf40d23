// The snapshot publisher's debounce (docs/decisions.md): a part is rebuilt once its changes have
// been quiet for `quietMs`, or at the latest `maxStaleMs` after the first of them. Its own module so
// that the bench's day model reads the same defaults without the publisher's Worker types.

export interface SnapshotTuning {
  quietMs: number;
  maxStaleMs: number;
}

/** Quiet period before a rebuild when `SNAPSHOT_QUIET_MS` is not set. */
export const DEFAULT_QUIET_MS = 3000;
/** Longest a change waits under continuous changes when `SNAPSHOT_MAX_STALE_MS` is not set. */
export const DEFAULT_MAX_STALE_MS = 300_000;

export function snapshotTuning(env: {
  SNAPSHOT_QUIET_MS?: string | undefined;
  SNAPSHOT_MAX_STALE_MS?: string | undefined;
}): SnapshotTuning {
  const num = (v: string | undefined, d: number) =>
    v !== undefined && v !== '' && Number.isFinite(Number(v)) ? Number(v) : d;
  return {
    quietMs: num(env.SNAPSHOT_QUIET_MS, DEFAULT_QUIET_MS),
    maxStaleMs: num(env.SNAPSHOT_MAX_STALE_MS, DEFAULT_MAX_STALE_MS),
  };
}
