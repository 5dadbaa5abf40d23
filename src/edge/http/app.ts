// The edge's HTTP front: health, central's snapshot notice, raw-mail ingress over HTTP, raw-object
// links. Every error answer is one of http/errors.ts's codes. (Mail and queue entry points:
// src/edge/index.ts.)
import { Hono } from 'hono';
import { rawLinkProblem } from '../../core/raw-link.js';
import { findRelayToken } from '../../core/relay-token.js';
import { SNAPSHOT_NOTICE_PATH, timingSafeEqual, verifySnapshotNotice } from '../../core/request-signature.js';
import { forwardingDeployment, type RoutingSnapshot } from '../../core/snapshot.js';
import { readStreamLimited } from '../../core/stream-limit.js';
import { postBatch } from '../central-batch.js';
import { type EdgeBindings, edgeRefusal, readEdgeConfig } from '../config.js';
import { enqueueAll } from '../enqueue.js';
import { journalDepth } from '../journal.js';
import {
  distinctRecipients,
  MAX_RECIPIENTS_PER_MESSAGE,
  PLATFORM_MAX_BYTES,
  type ProcessResult,
  processForRecipients,
  processMessage,
  receiptFor,
} from '../pipeline.js';
import { currentSnapshot, lastSnapshotChange, refreshSnapshot, snapshotVersion } from '../snapshot-store.js';
import { spoolDepth } from '../spool.js';
import { edgeError } from './errors.js';

type EdgeApp = { Bindings: EdgeBindings };

/** The shape of a token central mints (token-admin.ts): `crt_` and 32 random bytes in base64url. */
const API_TOKEN_SHAPE = /^crt_[A-Za-z0-9_-]{43}$/;

export const app = new Hono<EdgeApp>();

// Fail closed: no route runs on a configuration the edge cannot serve with (src/edge/config.ts).
app.use('*', async (c, next) => {
  const refusal = edgeRefusal(c.env, c.req.url);
  if (refusal) return edgeError(c, 'misconfigured', refusal);
  await next();
});

app.get('/health', async (c) => {
  const cfg = readEdgeConfig(c.env);
  return c.json({
    ok: true,
    role: 'edge',
    region: cfg.region,
    snapshotVersion: (await snapshotVersion(c.env, cfg)) ?? null,
    // The last new snapshot this process took and what fetched it (null: none since it started).
    lastSnapshotChange: lastSnapshotChange() ?? null,
    spooled: await spoolDepth(c.env),
    journaled: await journalDepth(c.env),
  });
});

/** Largest notice body the edge reads (`{"region":…,"version":…}` is a few dozen bytes). */
const NOTICE_MAX_BYTES = 1024;

/**
 * Snapshot push: central's signed notice that this region's snapshot moved on (signed with the
 * region's key, `x-central-timestamp` within 5 minutes). A newer version than the one held starts
 * the same refresh a poll would, after the answer (202); an older or equal one is a no-op (200).
 */
app.post(SNAPSHOT_NOTICE_PATH, async (c) => {
  const cfg = readEdgeConfig(c.env);
  const signature = c.req.header('x-central-signature') ?? '';
  const timestamp = Number(c.req.header('x-central-timestamp') ?? Number.NaN);
  if (!signature || !Number.isFinite(timestamp))
    return edgeError(c, 'unauthorized', 'missing x-central-signature or x-central-timestamp');
  const declared = Number(c.req.header('content-length') ?? 0);
  const bytes = c.req.raw.body
    ? await readStreamLimited(c.req.raw.body, NOTICE_MAX_BYTES, declared)
    : new Uint8Array();
  if (!bytes) return edgeError(c, 'payload_too_large', `a notice is at most ${NOTICE_MAX_BYTES} bytes`);
  const text = new TextDecoder().decode(bytes);
  if (!(await verifySnapshotNotice(cfg.signingKey, timestamp, text, signature)))
    return edgeError(c, 'unauthorized', 'bad signature, or a timestamp more than 5 minutes off');
  let notice: { region?: unknown; version?: unknown };
  try {
    notice = JSON.parse(text) as typeof notice;
  } catch {
    return edgeError(c, 'bad_request', 'the notice is not JSON');
  }
  if (typeof notice?.region !== 'string' || !Number.isSafeInteger(notice.version))
    return edgeError(c, 'bad_request', 'a notice is {"region": string, "version": integer}');
  if (notice.region !== cfg.region)
    return edgeError(c, 'forbidden', `this edge serves ${cfg.region}, not ${notice.region}`);
  const held = (await snapshotVersion(c.env, cfg)) ?? null;
  if (held !== null && (notice.version as number) <= held)
    return c.json({ refreshing: false, snapshotVersion: held }, 200);
  // Then a heartbeat, so central (and its dashboard) sees at once which version the edge holds.
  c.executionCtx.waitUntil(
    refreshSnapshot(c.env, cfg, 'notice', notice.version as number)
      .then((taken) => (taken ? postBatch(cfg, { items: [], receipts: [] }, 'heartbeat') : undefined))
      .catch((err) => console.error('heartbeat after a snapshot notice failed', err)),
  );
  return c.json({ refreshing: true, snapshotVersion: held }, 202);
});

/** Raw-mail ingress for servers that push over HTTP: body is the RFC 5322 message. */
app.post('/api/v1/inbound', async (c) => {
  const cfg = readEdgeConfig(c.env);
  const auth = c.req.header('authorization') ?? '';
  const token = /^Bearer\s+(\S+)$/i.exec(auth)?.[1];
  if (!token) return edgeError(c, 'unauthorized', 'missing bearer token');
  // INBOUND_TOKEN is the region operator's, for every address; otherwise a relay token the region's
  // snapshot carries (relay-token.ts), for its own deployment's forwarding addresses only.
  const operator = timingSafeEqual(token, cfg.inboundToken);
  let relay: { deployment: string; id: string; snapshot: RoutingSnapshot } | undefined;
  if (!operator) {
    // Only what central mints (`crt_` + 43 base64url characters) is looked up.
    if (!API_TOKEN_SHAPE.test(token)) return edgeError(c, 'unauthorized', 'invalid inbound token');
    let snapshot: RoutingSnapshot;
    try {
      snapshot = await currentSnapshot(c.env, cfg, (p) => c.executionCtx.waitUntil(p));
    } catch (err) {
      console.error('inbound: no snapshot to check a relay token against', err);
      c.header('retry-after', '30');
      return edgeError(c, 'unavailable', 'temporary failure; retry later');
    }
    const found = await findRelayToken(snapshot, cfg.signingKey, token);
    if (!found) return edgeError(c, 'unauthorized', 'invalid inbound token');
    relay = { ...found, snapshot };
  }
  // `to` may repeat (an SMTP relay passes every RCPT TO): the message is processed once per
  // distinct recipient (distinct as the forwarding-address match sees them, not as spelt), each
  // binding it to that address's deployment. The cap is checked before the body is read.
  const recipients = distinctRecipients(c.req.queries('to') ?? []);
  if (recipients.length > MAX_RECIPIENTS_PER_MESSAGE)
    return edgeError(
      c,
      'too_many_recipients',
      `${recipients.length} distinct recipients: at most ${MAX_RECIPIENTS_PER_MESSAGE} recipients per message (RFC 5321 §4.5.3.1.8); send the rest in another request`,
    );
  if (relay) {
    const at = Date.now();
    const foreign = recipients.length
      ? recipients.find((to) => forwardingDeployment(relay.snapshot, to, at) !== relay.deployment)
      : '(none)';
    if (foreign !== undefined)
      return edgeError(
        c,
        'forbidden',
        `relay token ${relay.id} delivers only to forwarding addresses of deployment ${relay.deployment}, not ${foreign}`,
      );
    console.log(
      `inbound: relay token ${relay.id} (deployment ${relay.deployment}), ${recipients.length} recipient(s)`,
    );
  }
  if (!c.req.raw.body) return edgeError(c, 'bad_request', 'empty body: send the raw message');
  const declared = Number(c.req.header('content-length') ?? 0);
  const raw = await readStreamLimited(c.req.raw.body, PLATFORM_MAX_BYTES, declared);
  const from = c.req.query('from');
  if (!raw) {
    await enqueueAll(c.env, [
      receiptFor(cfg, undefined, 'oversize', declared, Date.now(), 'larger than 25 MiB'),
    ]);
    return edgeError(c, 'payload_too_large', `message exceeds ${PLATFORM_MAX_BYTES} bytes (oversize)`);
  }
  const rejection = (result: ProcessResult, body: object) =>
    edgeError(
      c,
      result.rejectCode === 'unknown-recipient' ? 'unknown-recipient' : 'payload_too_large',
      result.reject ?? '',
      body,
    );
  try {
    const waitUntil = (p: Promise<unknown>) => c.executionCtx.waitUntil(p);
    if (recipients.length <= 1) {
      const result = await processMessage(c.env, cfg, raw, { from, to: recipients[0] }, waitUntil);
      const body = {
        status: result.status,
        reason: result.reason,
        detail: result.detail,
        items: result.itemIds,
      };
      if (result.reject) return rejection(result, body);
      return c.json(body, 202);
    }
    // One raw copy and one subrequest budget for the whole request, whatever the recipients.
    const results = await processForRecipients(c.env, cfg, raw, from, recipients, waitUntil);
    // A permanent refusal only when every recipient refused the message (413 if one did for its
    // size, else 400 unknown-recipient): otherwise a deployment that accepted it would lose the
    // message to the sender's bounce.
    const rejected = results.every((r) => r.result.reject)
      ? (results.find((r) => r.result.rejectCode === 'oversize') ?? results[0])
      : undefined;
    const tracked = results.find((r) => r.result.status === 'tracked');
    const first = (tracked ?? results[0])!.result;
    const body = {
      status: tracked ? 'tracked' : 'tossed',
      reason: first.reason,
      detail: first.detail,
      items: results.flatMap((r) => r.result.itemIds),
      recipients: results.map((r) => ({
        to: r.to,
        status: r.result.status,
        reason: r.result.reason,
        items: r.result.itemIds,
      })),
    };
    if (rejected) return rejection(rejected.result, body);
    return c.json(body, 202);
  } catch (err) {
    console.error('inbound: temporary failure', err);
    c.header('retry-after', '30');
    return edgeError(c, 'unavailable', 'temporary failure; retry later');
  }
});

/** Serves a raw message or attachment through a short-lived signed link (minted by central). */
app.get('/raw/*', async (c) => {
  const cfg = readEdgeConfig(c.env);
  let key: string;
  try {
    key = decodeURIComponent(c.req.path.slice('/raw/'.length));
  } catch {
    // URIError: a stray `%` or an escape that is not UTF-8 (RFC 3986 §2.1); central never mints one.
    return edgeError(c, 'bad_request', 'the object key has a malformed percent-escape');
  }
  const problem = await rawLinkProblem(
    { signingKey: cfg.signingKey, key, exp: Number(c.req.query('exp')), sig: c.req.query('sig') ?? '' },
    Date.now(),
  );
  if (problem === 'unsigned') return edgeError(c, 'unauthorized', 'missing signature');
  if (problem === 'expired') return edgeError(c, 'forbidden', 'link expired');
  if (problem === 'bad-signature') return edgeError(c, 'forbidden', 'bad link signature');
  const object = await c.env.RAW.get(key);
  if (!object) return edgeError(c, 'not_found', 'no such object in this region');
  const headers = new Headers();
  object.writeHttpMetadata(headers);
  headers.set('cache-control', 'private, no-store');
  // The content is the sender's: never rendered on this origin (no sniffing, no script, a download).
  const name =
    key
      .split('/')
      .pop()
      ?.replace(/[^\w.-]/g, '_') || 'message';
  headers.set('content-disposition', `attachment; filename="${name}"`);
  headers.set('x-content-type-options', 'nosniff');
  headers.set('content-security-policy', 'sandbox');
  return new Response(object.body, { headers });
});

app.notFound((c) => edgeError(c, 'not_found', `no route for ${c.req.method} ${c.req.path}`));
app.onError((err, c) => {
  console.error(err);
  return edgeError(c, 'internal', 'internal error');
});
