// A fast path for zod schemas on hot paths (issue 21: validating the 250 items of an ingest batch
// took 5.6 ms of its ~50 in workerd, where zod cannot compile its own fast path because code
// generation from strings is disallowed). `fastParser(schema)` walks the schema's definition once
// and returns a parser built of closures that accepts exactly what zod accepts and returns the
// same output: the type tests are these few lines, and every refinement is zod's own check,
// called as zod calls it. Anything it does not accept it answers `NOT_ACCEPTED`, and the caller
// asks zod itself, which gives the issues: the fast path can be slower to say no, never different
// in what it lets through (property-tested against zod in test/core/schema-fast-path.test.ts).
import type { z } from 'zod';

/** The fast path did not accept the value: parse it with zod (which explains why, or accepts it). */
export const NOT_ACCEPTED: unique symbol = Symbol('not accepted by the fast path');

type Parse = (value: unknown) => unknown;

/** zod 4's internals, as far as the fast path reads them (`schema._zod`, zod/v4/core). */
interface Internals {
  def: {
    type: string;
    checks?: { _zod: CheckInternals }[];
    coerce?: boolean;
    innerType?: Node;
    element?: Node;
    shape?: Record<string, Node>;
    catchall?: Node;
    in?: Node;
    out?: Node;
    values?: unknown[];
    transform?: (value: unknown, payload: Payload) => unknown;
  };
  values?: Set<unknown>;
  traits?: Set<string>;
  optin?: 'optional' | 'defaulted';
  optout?: 'optional';
}
interface CheckInternals {
  def: { when?: (payload: Payload) => boolean };
  check: (payload: Payload) => unknown;
}
interface Payload {
  value: unknown;
  issues: unknown[];
}
type Node = { _zod: Internals };

/**
 * A parser for `schema` that answers zod's output for what it accepts, `NOT_ACCEPTED` otherwise.
 * Where zod's output would equal (part of) the input, it is that part of the input itself: a
 * caller that changes what it gets changes its input.
 * Throws at once for a kind of schema it does not know (a hot path gets this fast path whole or
 * not at all).
 */
export function fastParser<S extends z.ZodType>(
  schema: S,
): (value: unknown) => z.output<S> | typeof NOT_ACCEPTED {
  const parse = compile(schema as unknown as Node, '');
  return (value) => {
    try {
      return parse(value) as z.output<S> | typeof NOT_ACCEPTED;
    } catch {
      // A check or transform that throws: zod's own parse meets the same and answers for it.
      return NOT_ACCEPTED;
    }
  };
}

function compile(node: Node, path: string): Parse {
  const { def } = node._zod;
  const base = compileType(node, path);
  // As zod's `$ZodType`: a schema that is itself a check (a string format such as `z.url()`) runs first.
  const self = node._zod.traits?.has('$ZodCheck') ? [node._zod as unknown as CheckInternals] : [];
  const checks = [...self, ...(def.checks ?? []).map((c) => c._zod)];
  if (!checks.length) return base;
  // As zod's `run`: the type's parse, then each check on its result (`when` decides for those that have one).
  // One payload per node, reused: the checks are synchronous and keep no reference to it.
  const payload: Payload = { value: undefined, issues: [] };
  return (value) => {
    const out = base(value);
    if (out === NOT_ACCEPTED) return out;
    payload.value = out;
    let accepted = true;
    for (const check of checks) {
      if (check.def.when && !check.def.when(payload)) continue;
      if (check.check(payload) instanceof Promise || payload.issues.length) {
        accepted = false;
        break;
      }
    }
    const result = accepted ? payload.value : NOT_ACCEPTED;
    // Holds nothing of this value until the next one.
    payload.value = undefined;
    // A new array only after a refusal: setting `length` is a call into the runtime on every value.
    if (!accepted) payload.issues = [];
    return result;
  };
}

function unsupported(path: string, what: string): never {
  throw new Error(`fastParser: ${what} at ${path || 'the root'} is not supported`);
}

function compileType(node: Node, path: string): Parse {
  const zod = node._zod;
  const { def } = zod;
  if (def.coerce) unsupported(path, `a coercing ${def.type}`);
  switch (def.type) {
    case 'string':
      return (v) => (typeof v === 'string' ? v : NOT_ACCEPTED);
    case 'number':
      // zod's number: finite (no NaN, no ±Infinity).
      return (v) => (typeof v === 'number' && Number.isFinite(v) ? v : NOT_ACCEPTED);
    case 'boolean':
      return (v) => (typeof v === 'boolean' ? v : NOT_ACCEPTED);
    case 'literal':
    case 'enum': {
      const values = zod.values;
      if (!values) return unsupported(path, `a ${def.type} without values`);
      return (v) => (values.has(v) ? v : NOT_ACCEPTED);
    }
    case 'optional': {
      const inner = def.innerType as Node;
      if (inner._zod.optin === 'defaulted') unsupported(path, 'an optional default');
      const parse = compile(inner, path);
      return (v) => (v === undefined ? undefined : parse(v));
    }
    case 'array': {
      const element = compile(def.element as Node, `${path}[]`);
      return (v) => {
        if (!Array.isArray(v)) return NOT_ACCEPTED;
        // The input array itself while every element comes out as it went in (a copy from the
        // first that does not, or that is undefined: zod's output has no holes). zod's output is a
        // plain array: an array of a subclass is copied whatever its elements.
        let out: unknown[] | undefined = Object.getPrototypeOf(v) === Array.prototype ? undefined : [];
        for (let i = 0; i < v.length; i++) {
          const r = element(v[i]);
          if (r === NOT_ACCEPTED) return r;
          if (out) out.push(r);
          else if (r !== v[i] || r === undefined) {
            out = v.slice(0, i);
            out.push(r);
          }
        }
        return out ?? v;
      };
    }
    case 'object':
      return compileObject(node, path);
    case 'pipe': {
      const left = compile(def.in as Node, path);
      const right = compile(def.out as Node, path);
      return (v) => {
        const r = left(v);
        return r === NOT_ACCEPTED ? r : right(r);
      };
    }
    case 'transform': {
      const transform = def.transform as NonNullable<Internals['def']['transform']>;
      return (v) => {
        const payload: Payload = { value: v, issues: [] };
        const out = transform(v, payload);
        return out instanceof Promise || payload.issues.length ? NOT_ACCEPTED : out;
      };
    }
    default:
      return unsupported(path, `zod type ${def.type}`);
  }
}

/**
 * zod's object (unknown keys stripped, keys in the shape's order): an absent key that is optional
 * in and out is left out, a present one kept even when undefined, an absent required one refused.
 */
function compileObject(node: Node, path: string): Parse {
  const { def } = node._zod;
  if (def.catchall) unsupported(path, 'an object with a catchall (passthrough or strict)');
  const shape = def.shape ?? {};
  if (Object.getOwnPropertySymbols(shape).length) unsupported(path, 'an object with symbol keys');
  const fields = Object.keys(shape)
    .filter((key) => key !== '__proto__')
    .map((key) => {
      const field = shape[key] as Node;
      const { optin, optout } = field._zod;
      if (optin === 'defaulted') unsupported(`${path}.${key}`, 'a default');
      return {
        key,
        parse: compile(field, `${path}.${key}`),
        omittable: optin === 'optional' && optout === 'optional',
        optin,
      };
    });
  const keys = new Set(fields.map((f) => f.key));
  /**
   * A plain object (zod's output is one) whose own enumerable keys are fields, and all the keys
   * present (`in`: none inherited or hidden).
   */
  const ownKeysAreFields = (input: object, present: number) => {
    if (Object.getPrototypeOf(input) !== Object.prototype) return false;
    const own = Object.keys(input);
    if (own.length !== present) return false;
    for (const key of own) if (!keys.has(key)) return false;
    return true;
  };
  return (v) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return NOT_ACCEPTED;
    const input = v as Record<string, unknown>;
    const results = new Array<unknown>(fields.length);
    let present = 0;
    let same = true;
    for (let i = 0; i < fields.length; i++) {
      const { key, parse, omittable, optin } = fields[i] as (typeof fields)[number];
      const has = key in input;
      const value = input[key];
      const r = parse(value);
      results[i] = r;
      if (!has) {
        if (omittable) continue;
        if (r === NOT_ACCEPTED || optin === undefined) return NOT_ACCEPTED;
        // Absent, yet the field gave a value (an optional input transformed): not the input's.
        if (r !== undefined) same = false;
        continue;
      }
      if (r === NOT_ACCEPTED) return r;
      present++;
      if (r !== value) same = false;
    }
    // The input object itself when zod's output would equal it: every key a field of the shape
    // (nothing to strip, no inherited one), every value as it came in.
    if (same && ownKeysAreFields(input, present)) return input;
    const out: Record<string, unknown> = {};
    for (let i = 0; i < fields.length; i++) {
      const { key } = fields[i] as (typeof fields)[number];
      const r = results[i];
      if (r !== undefined || key in input) out[key] = r;
    }
    return out;
  };
}
