// Fault injection for the fault suite (test/faults): wrappers around the real R2 and queue
// bindings that fail on command. Active only when FAULT_INJECTION = "on", which only a local
// development edge honours (readEdgeConfig refuses it elsewhere); otherwise `withFaults` returns the bindings untouched and `/__faults`
// does not exist.
import { isLocalDevelopment } from '../core/deploy-mode.js';
import type { EdgeBindings } from './config.js';

export type FaultName = 'r2-put' | 'queue-send';

interface Fault {
  /** Failures left (Infinity: until cleared). */
  remaining: number;
  /** R2 only: fail only keys with this prefix. */
  prefix?: string;
}

const active = new Map<FaultName, Fault>();

export function faultsEnabled(env: { FAULT_INJECTION?: string; ENVIRONMENT?: string }): boolean {
  return env.FAULT_INJECTION === 'on' && isLocalDevelopment(env);
}

function take(name: FaultName, key?: string): boolean {
  const f = active.get(name);
  if (!f || f.remaining <= 0) return false;
  if (f.prefix && key !== undefined && !key.startsWith(f.prefix)) return false;
  f.remaining--;
  return true;
}

function wrap<T extends object>(target: T, overrides: Partial<Record<keyof T, unknown>>): T {
  return new Proxy(target, {
    get(t, prop) {
      if (prop in overrides) return overrides[prop as keyof T];
      const v = Reflect.get(t, prop);
      return typeof v === 'function' ? v.bind(t) : v;
    },
  });
}

export function withFaults(env: EdgeBindings): EdgeBindings {
  if (!faultsEnabled(env)) return env;
  const raw = env.RAW;
  const outbox = env.OUTBOX;
  return {
    ...env,
    RAW: wrap(raw, {
      put: (key: string, ...rest: unknown[]) =>
        take('r2-put', key)
          ? Promise.reject(new Error(`injected fault: R2 put ${key} failed`))
          : (raw.put as (...a: unknown[]) => Promise<unknown>).call(raw, key, ...rest),
    }),
    OUTBOX: wrap(outbox, {
      send: (...a: unknown[]) =>
        take('queue-send')
          ? Promise.reject(new Error('injected fault: queue send failed'))
          : (outbox.send as (...x: unknown[]) => Promise<unknown>).call(outbox, ...a),
      sendBatch: (...a: unknown[]) =>
        take('queue-send')
          ? Promise.reject(new Error('injected fault: queue sendBatch failed'))
          : (outbox.sendBatch as (...x: unknown[]) => Promise<unknown>).call(outbox, ...a),
    }),
  };
}

/** `POST /__faults` `{ fault, count?, prefix? }` sets a fault; `DELETE /__faults` clears all. */
export async function handleFaultRequest(request: Request): Promise<Response> {
  if (request.method === 'DELETE') {
    active.clear();
    return Response.json({ active: [] });
  }
  if (request.method === 'POST') {
    const body = (await request.json()) as { fault?: FaultName; count?: number; prefix?: string };
    if (body.fault !== 'r2-put' && body.fault !== 'queue-send')
      return Response.json({ error: { code: 'bad_request', message: 'unknown fault' } }, { status: 400 });
    active.set(body.fault, {
      remaining: body.count ?? Number.POSITIVE_INFINITY,
      ...(body.prefix ? { prefix: body.prefix } : {}),
    });
  }
  return Response.json({
    active: [...active].map(([name, f]) => ({
      fault: name,
      remaining: String(f.remaining),
      prefix: f.prefix,
    })),
  });
}
