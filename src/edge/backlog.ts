// Queue backlog as this edge sees it: messages it enqueued minus those settled (acked or
// dead-lettered). Cloudflare Queues offers no backlog API to a Worker, so this is an estimate per
// isolate, reported with every heartbeat; the dashboard labels it as such.
let outstanding = 0;

export function noteEnqueued(n: number): void {
  outstanding += n;
}

export function noteSettled(n: number): void {
  outstanding = Math.max(0, outstanding - n);
}

export function backlogEstimate(): number {
  return outstanding;
}
