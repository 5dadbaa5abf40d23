// A deployment's CRM connector as a use case (design §4, "CRM connectors"): which one delivers
// (a connector row, or the deployment's webhook URL as the kind `webhook`), its settings validated
// per kind, its secrets encrypted at rest (secrets.ts) and never returned, a connection test, and
// the health an admin reads: state, last delivery and sync, backlog, lag, errors by reason.
import { z } from '@hono/zod-openapi';
import type { Db } from '../../db/client.js';
import {
  type ConnectorRow,
  findConnector,
  outboxBacklog,
  outboxErrorsByReason,
  recentDeliveries,
  updateConnector,
  upsertConnector,
} from '../../db/queries/connectors.js';
import {
  type DeploymentRow,
  findDeployment,
  listDeployments,
  upsertDeployment,
} from '../../db/queries/deployments.js';
import { activeRecordIdsAfter } from '../../db/queries/records.js';
import { type WebhookUrlPolicy, webhookUrlProblem } from '../delivery/webhook-url.js';
import { notFound, validationFailed } from '../http/errors.js';
import { type AdapterRegistry, adapterFor } from './registry.js';
import { decryptSecrets, encryptSecrets } from './secrets.js';
import {
  CONNECTOR_KINDS,
  type ConnectorAdapter,
  type ConnectorCache,
  type ConnectorContext,
  type ConnectorKind,
  type TestResult,
} from './types.js';
import { webhookSecret } from './webhook.js';

/** Latest deliveries the lag percentiles are taken over (enough for a p99 that means something). */
export const LAG_SAMPLE = 1000;
/** Longest secret value accepted (an OAuth client secret or a private-app token is far shorter). */
const MAX_SECRET_CHARS = 4096;
/** Longest plain setting (ids, database names). */
const MAX_SETTING_CHARS = 256;

/** What a connector needs of central's configuration (a CentralConfig is one). */
export interface ConnectorConfig extends WebhookUrlPolicy {
  edgeKeySecret: string;
}

const url = z.string().min(1).max(2000);
const plain = z.string().min(1).max(MAX_SETTING_CHARS);
const secret = z.string().min(1).max(MAX_SECRET_CHARS);

/** Each kind's settings and secrets (design §4); every secret listed is required once set up. */
export const CONNECTOR_FIELDS = {
  webhook: { settings: z.object({ url }).strict(), secrets: [] as const, urls: ['url'] as const },
  hubspot: {
    settings: z.object({ baseUrl: url.optional() }).strict(),
    secrets: ['accessToken'] as const,
    urls: ['baseUrl'] as const,
  },
  dynamics365: {
    settings: z.object({ url, tenantId: plain, clientId: plain, tokenUrl: url.optional() }).strict(),
    secrets: ['clientSecret'] as const,
    urls: ['url', 'tokenUrl'] as const,
  },
  tryton: {
    settings: z.object({ url, database: plain }).strict(),
    secrets: ['username', 'password'] as const,
    urls: ['url'] as const,
  },
} satisfies Record<
  ConnectorKind,
  { settings: z.ZodType; secrets: readonly string[]; urls: readonly string[] }
>;

export const connectorInput = z
  .object({
    kind: z.enum(CONNECTOR_KINDS),
    settings: z.record(z.string(), z.unknown()).default({}),
    secrets: z.record(z.string(), secret).optional().openapi({
      description:
        'write-only: given secrets replace the stored ones (the others are kept while the kind stays the same); never returned',
    }),
  })
  .openapi('ConnectorInput');
export type ConnectorInput = z.infer<typeof connectorInput>;

/** The connector that delivers a deployment's activities, as central resolves it. */
export interface EffectiveConnector {
  deployment: string;
  kind: ConnectorKind;
  settings: Record<string, unknown>;
  /** Absent for a deployment that only has a webhook URL (it behaves as it always did). */
  row?: ConnectorRow;
}

/**
 * The connector of a deployment: its row, or its webhook URL as the kind `webhook`; undefined when
 * it delivers nowhere. The webhook kind's URL is the deployment's `webhookUrl` (one place for it).
 */
export async function loadConnector(
  db: Db,
  deployment: Pick<DeploymentRow, 'id' | 'webhookUrl'>,
): Promise<EffectiveConnector | undefined> {
  const row = await findConnector(db, deployment.id);
  if (row && row.kind !== 'webhook')
    return { deployment: deployment.id, kind: row.kind as ConnectorKind, settings: row.settings, row };
  if (!deployment.webhookUrl && !row) return undefined;
  return {
    deployment: deployment.id,
    kind: 'webhook',
    settings: deployment.webhookUrl ? { url: deployment.webhookUrl } : {},
    ...(row ? { row } : {}),
  };
}

/** Why central must not call a URL of these settings, naming the field; undefined when it may. */
export function settingsUrlProblem(
  kind: ConnectorKind,
  settings: Record<string, unknown>,
  policy: WebhookUrlPolicy,
): string | undefined {
  for (const field of CONNECTOR_FIELDS[kind].urls) {
    const value = settings[field];
    if (value === undefined) continue;
    const problem = typeof value === 'string' ? webhookUrlProblem(value, policy) : 'not a URL';
    if (problem) return `settings.${field}: ${problem}`;
  }
  return undefined;
}

/** Short-lived adapter values (an OAuth token until its expiry), per isolate: losing them costs one fetch. */
const isolateCache = new Map<string, { value: string; until: number }>();

function connectorCache(deployment: string, now: () => number): ConnectorCache {
  return {
    async get(key) {
      const hit = isolateCache.get(`${deployment}\0${key}`);
      if (!hit || hit.until <= now()) return undefined;
      return hit.value;
    },
    async put(key, value, ttlSeconds) {
      isolateCache.set(`${deployment}\0${key}`, { value, until: now() + ttlSeconds * 1000 });
    },
  };
}

/**
 * What an adapter gets for one call: settings, decrypted secrets (the webhook's signing key is
 * derived, never stored), a cache and the clock. Throws when the stored secrets do not decrypt.
 */
export async function connectorContext(
  db: Db,
  config: ConnectorConfig,
  connector: EffectiveConnector,
  now: () => number = Date.now,
): Promise<ConnectorContext> {
  let secrets: Record<string, string>;
  if (connector.kind === 'webhook') {
    const deployment = await findDeployment(db, connector.deployment);
    secrets = {
      signingKey: await webhookSecret(
        config.edgeKeySecret,
        connector.deployment,
        deployment?.webhookSecretGeneration ?? 0,
      ),
    };
  } else {
    secrets = await decryptSecrets(config.edgeKeySecret, connector.deployment, connector.row?.secrets);
  }
  return {
    deployment: connector.deployment,
    settings: connector.settings,
    secrets,
    cache: connectorCache(connector.deployment, now),
    now,
    knownRecordIds: (type, after, limit) =>
      activeRecordIdsAfter(db, connector.deployment, type, after, limit),
  };
}

/**
 * PUT …/connector: validates the settings of the kind (URLs under the webhook URL policy), merges
 * the given secrets over the stored ones (same kind only), encrypts them, and resumes a paused
 * connector. The kind `webhook` keeps its URL on the deployment; another kind clears it (a
 * deployment delivers to one connector). A new kind or new settings restart the record sync.
 */
export async function saveConnector(
  db: Db,
  config: ConnectorConfig,
  deployment: DeploymentRow,
  input: ConnectorInput,
  registry?: AdapterRegistry,
  now = Date.now(),
): Promise<{ connector: EffectiveConnector; webhookUrlFirstSet: boolean }> {
  const kind = input.kind;
  if (!adapterFor(kind, registry))
    throw validationFailed(
      `kind: "${kind}" has no adapter in this central (available: ${availableKinds(registry).join(', ')})`,
    );
  const fields = CONNECTOR_FIELDS[kind];
  const parsed = fields.settings.safeParse(input.settings);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw validationFailed(
      `settings${issue.path.length ? `.${issue.path.join('.')}` : ''}: ${issue.message}`,
    );
  }
  const settings = parsed.data as Record<string, unknown>;
  const urlProblem = settingsUrlProblem(kind, settings, config);
  if (urlProblem) throw validationFailed(urlProblem);
  const allowed = new Set<string>(fields.secrets);
  for (const name of Object.keys(input.secrets ?? {}))
    if (!allowed.has(name))
      throw validationFailed(
        `secrets.${name}: not a secret of the kind ${kind} (${fields.secrets.length ? fields.secrets.join(', ') : 'it has none'})`,
      );
  const before = await findConnector(db, deployment.id);
  const kept =
    before && before.kind === kind && before.secrets
      ? await decryptSecrets(config.edgeKeySecret, deployment.id, before.secrets).catch(() => ({}))
      : {};
  const secrets: Record<string, string> = { ...kept, ...input.secrets };
  for (const name of fields.secrets)
    if (!secrets[name]) throw validationFailed(`secrets.${name}: required for the kind ${kind} (not set)`);
  const sameTarget =
    before?.kind === kind &&
    JSON.stringify(before.settings) === JSON.stringify(kind === 'webhook' ? {} : settings);
  const webhookUrlFirstSet = kind === 'webhook' && !deployment.webhookUrl;
  const nextWebhookUrl = kind === 'webhook' ? (settings.url as string) : null;
  if (nextWebhookUrl !== (deployment.webhookUrl ?? null))
    await upsertDeployment(db, { ...deployment, webhookUrl: nextWebhookUrl, updatedAt: now });
  const row = await upsertConnector(db, {
    deployment: deployment.id,
    kind,
    // The webhook's URL lives on the deployment; its row holds only the state.
    settings: kind === 'webhook' ? {} : settings,
    secrets: Object.keys(secrets).length
      ? await encryptSecrets(config.edgeKeySecret, deployment.id, secrets)
      : null,
    secretNames: Object.keys(secrets).sort(),
    state: 'ok',
    pauseReason: null,
    ...(sameTarget
      ? {}
      : {
          syncCursor: null,
          syncId: null,
          syncDone: 0,
          syncTotal: null,
          syncStartedAt: null,
          lastSyncAt: null,
        }),
    createdAt: before?.createdAt ?? now,
    updatedAt: now,
  });
  return {
    connector: { deployment: deployment.id, kind, settings, row },
    webhookUrlFirstSet,
  };
}

export function availableKinds(registry?: AdapterRegistry): ConnectorKind[] {
  return CONNECTOR_KINDS.filter((k) => adapterFor(k, registry));
}

/** A deployment and its connector, or a 404 naming what is missing. */
export async function requireConnector(db: Db, id: string) {
  const deployment = await findDeployment(db, id);
  if (!deployment) throw notFound(`deployment ${id} does not exist`);
  const connector = await loadConnector(db, deployment);
  if (!connector)
    throw notFound(`deployment ${id} has no connector (PUT /api/v1/deployments/${id}/connector sets one)`);
  return { deployment, connector };
}

/**
 * POST …/connector/test: one harmless call to the CRM, answered in an admin's words. A connector
 * paused by a 401/403 resumes when the test passes: the CRM takes its credentials again.
 */
export async function testConnector(
  db: Db,
  config: ConnectorConfig,
  connector: EffectiveConnector,
  registry?: AdapterRegistry,
  now = Date.now(),
): Promise<TestResult> {
  const adapter = adapterFor(connector.kind, registry);
  if (!adapter) return { ok: false, detail: `no adapter for the kind ${connector.kind} in this central` };
  if (connector.kind === 'webhook' && !connector.settings.url)
    return { ok: false, detail: 'the deployment has no webhook URL' };
  const problem = settingsUrlProblem(connector.kind, connector.settings, config);
  if (problem) return { ok: false, detail: `${problem} (central does not call it)` };
  let result: TestResult;
  try {
    result = await adapter.test(await connectorContext(db, config, connector));
  } catch (err) {
    result = { ok: false, detail: adapterFailure(adapter, err) };
  }
  if (result.ok && connector.row?.state === 'paused')
    await updateConnector(db, connector.deployment, { state: 'ok', pauseReason: null, updatedAt: now });
  return result;
}

/** An adapter's crash in an admin's words: its kind and the error's class, never its message (it may quote a secret). */
export function adapterFailure(adapter: ConnectorAdapter, err: unknown): string {
  if (err instanceof Error && /decrypt|OperationError/i.test(`${err.name} ${err.message}`))
    return "the stored secrets cannot be decrypted (was central's EDGE_KEY_SECRET changed?): set them again";
  return `the ${adapter.kind} connector failed inside central (${err instanceof Error ? err.name : 'error'}); see central's log`;
}

/** Nearest-rank percentile (p in 0..1) of sorted numbers. */
function percentile(sorted: number[], p: number): number | undefined {
  if (!sorted.length) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

export type ConnectorState = 'ok' | 'syncing' | 'paused' | 'failing';

/**
 * The status an admin reads, computed from the outbox itself (backlog, last delivery, lag over the
 * latest {@link LAG_SAMPLE} first deliveries, errors by how the last attempt ended) so it cannot
 * drift from what happened. `lastError` and `pauseReason` only `withError` (never for user tokens).
 */
export async function connectorStatus(db: Db, connector: EffectiveConnector, { withError = true } = {}) {
  const row = connector.row;
  const [backlog, recent, errors] = await Promise.all([
    outboxBacklog(db, connector.deployment),
    recentDeliveries(db, connector.deployment, LAG_SAMPLE),
    outboxErrorsByReason(db, connector.deployment),
  ]);
  const lags = recent
    .map((r) => r.lagMs)
    .filter((n): n is number => typeof n === 'number')
    .sort((a, b) => a - b);
  const state: ConnectorState =
    row?.state === 'paused'
      ? 'paused'
      : row?.state === 'failing'
        ? 'failing'
        : row?.syncId
          ? 'syncing'
          : 'ok';
  const p50 = percentile(lags, 0.5);
  const p99 = percentile(lags, 0.99);
  return {
    state,
    ...(recent[0]?.deliveredAt ? { lastDeliveryAt: recent[0].deliveredAt } : {}),
    ...(row?.lastSyncAt ? { lastSyncAt: row.lastSyncAt } : {}),
    backlog,
    ...(p50 !== undefined ? { lagMsP50: p50 } : {}),
    ...(p99 !== undefined ? { lagMsP99: p99 } : {}),
    errors,
    ...(row?.syncId
      ? {
          sync: {
            id: row.syncId,
            done: row.syncDone,
            ...(row.syncTotal !== null ? { total: row.syncTotal } : {}),
            startedAt: row.syncStartedAt ?? row.updatedAt,
          },
        }
      : {}),
    ...(withError && row?.pauseReason ? { pauseReason: row.pauseReason } : {}),
    ...(withError && row?.lastError ? { lastError: row.lastError, lastErrorAt: row.lastErrorAt } : {}),
  };
}

/**
 * The connector as the API shows it: never its secrets, only which are set. User tokens see the kind
 * and status without settings and errors (`full` false).
 */
export async function connectorView(db: Db, connector: EffectiveConnector, { full = true } = {}) {
  const status = await connectorStatus(db, connector, { withError: full });
  if (!full) return { kind: connector.kind, status };
  const names = new Set(connector.row?.secretNames ?? []);
  const secrets: Record<string, 'set' | 'not set'> = Object.fromEntries(
    (CONNECTOR_FIELDS[connector.kind]?.secrets ?? []).map((n) => [n, names.has(n) ? 'set' : 'not set']),
  );
  return { kind: connector.kind, settings: connector.settings, secrets, status };
}

/**
 * Records on the connector what a delivery or sync learnt: paused, failing, or ok again. A
 * deployment with only a webhook URL gets a row the first time something goes wrong.
 */
export async function noteConnectorState(
  db: Db,
  connector: EffectiveConnector,
  change: { state: 'ok' | 'paused' | 'failing'; error?: string },
  now = Date.now(),
) {
  const fields = {
    state: change.state,
    ...(change.state === 'paused' ? { pauseReason: change.error ?? 'paused' } : {}),
    ...(change.error ? { lastError: change.error, lastErrorAt: now } : {}),
    updatedAt: now,
  };
  if (connector.row) {
    if (connector.row.state === change.state && !change.error) return;
    // A paused connector stays paused until a PUT or a passing test: a delivery that was already
    // under way when it paused does not resume it.
    if (connector.row.state === 'paused' && change.state !== 'paused') return;
    await updateConnector(db, connector.deployment, fields);
    return;
  }
  if (change.state === 'ok') return;
  await upsertConnector(db, {
    deployment: connector.deployment,
    kind: connector.kind,
    settings: {},
    secrets: null,
    secretNames: [],
    createdAt: now,
    ...fields,
  });
}

/**
 * Every connector's kind and status by deployment (`GET /api/v1/stats`, the Overview page), or the
 * one of `deployment` when the principal is confined to it.
 */
export async function connectorsHealth(db: Db, deployment?: string) {
  const deployments = deployment
    ? [await findDeployment(db, deployment)].filter((d): d is DeploymentRow => !!d)
    : await listDeployments(db);
  const out: Record<string, { kind: ConnectorKind } & Awaited<ReturnType<typeof connectorStatus>>> = {};
  for (const d of deployments) {
    const connector = await loadConnector(db, d);
    if (connector) out[d.id] = { kind: connector.kind, ...(await connectorStatus(db, connector)) };
  }
  return out;
}
