// The public API's zod schemas: request bodies and answers of central's routes. The routes
// declare them (validation, OpenAPI) and the typed client (scripts/central-client.ts) takes its
// request and response types from them, so a field renamed here breaks the CLI, the seeder and the
// simulator at compile time. Platform-free on purpose: zod and core only, no bindings, no database.
import { z } from '@hono/zod-openapi';
import { normaliseMessageId } from '../../core/keyed-hash.js';
import { RULE_FORMATS } from '../../core/rule-scripts.js';
import { ATTACHMENT_POLICIES, EGRESS_POLICIES, FILTER_MODES, RECORD_TYPES } from '../../core/types.js';
import { webhookUrlProblem } from '../delivery/webhook-url.js';

export const errorSchema = z
  .object({ error: z.object({ code: z.string(), message: z.string(), requestId: z.string() }) })
  .openapi('Error');

// ---------------------------------------------------------------------------------------------
// deployments

export const idParam = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lower-case letters, digits and dashes, at most 63 characters');

export const trackingTokenSchema = z.object({
  prefix: z
    .string()
    .min(1)
    .max(20)
    .regex(/^[^\s\d]+$/, 'no whitespace or digits')
    .default('CRM:'),
  deploymentBase: z.number().int().min(0).max(99999),
  userDigits: z.number().int().min(1).max(9).default(3),
  counterDigits: z.number().int().min(1).max(9).default(3),
});

/** A mail domain a deployment owns (lower-cased; no trailing dot). */
export const domainName = z
  .string()
  .trim()
  .max(253)
  .regex(
    /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i,
    'must be a domain name such as contoso.example',
  )
  .transform((s) => s.toLowerCase());

export const forwardingAddressesSchema = z.record(z.string(), z.string()).openapi({
  description:
    'One unguessable forwarding address per region (`{ "<region>": "<address>" }`): the rule scripts forward there, and the edge accepts mail only for these (anything else is refused as `unknown-recipient`). Admin and deployment tokens only.',
  example: { eu: 'crm-99a828efe8619bcb027f4db8@eu.edge.crm-router.example' },
});

export const deploymentBody = z
  .object({
    name: z.string().min(1).max(200),
    trackingToken: trackingTokenSchema.partial({ deploymentBase: true }).optional(),
    webhookUrl: z
      .string()
      .superRefine((url, ctx) => {
        // The rule a development central applies; saveDeployment applies the deployment's own.
        const problem = webhookUrlProblem(url, { production: false });
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .nullable()
      .optional()
      .openapi({
        description:
          'https, to a public domain name (no IP address, no local or internal name); redirects are not followed. A local development central also delivers to loopback receivers over http.',
      }),
    maxMessageBytes: z
      .number()
      .int()
      .min(1024)
      .max(25 * 1024 * 1024)
      .optional(),
    attachmentPolicy: z.enum(ATTACHMENT_POLICIES).optional(),
    smartMatch: z.boolean().optional(),
    domains: z.array(domainName).max(100).optional().openapi({
      description:
        'Mail domains of the deployment (admin only; replaces the list). Its tokens may route addresses in them and their subdomains; a domain, its parents and its subdomains belong to at most one deployment (409 `domain_owned_elsewhere`).',
    }),
    retentionDays: z.number().int().min(1).max(36_500).nullable().optional().openapi({
      description:
        'days activities and dispositions are kept (null: for ever); older ones are exported as NDJSON to the ARCHIVE bucket and pruned by the cron',
    }),
  })
  .openapi('DeploymentInput');

export type DeploymentInput = z.infer<typeof deploymentBody>;

export const deploymentSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    trackingToken: trackingTokenSchema,
    webhookUrl: z.string().nullable().optional().openapi({ description: 'admin and deployment tokens only' }),
    webhookSecret: z.string().optional().openapi({
      description:
        'verifies `x-crm-router-signature` on webhook deliveries; returned to admins once, when the webhook URL is first set (rotate for a new one)',
    }),
    maxMessageBytes: z.number(),
    attachmentPolicy: z.string(),
    smartMatch: z.boolean(),
    domains: z.array(z.string()),
    forwardingAddresses: forwardingAddressesSchema.optional(),
    retentionDays: z.number().nullable(),
    createdAt: z.number(),
    updatedAt: z.number(),
  })
  .openapi('Deployment');

// ---------------------------------------------------------------------------------------------
// regions

export const regionBody = z
  .object({
    name: z.string().min(1).max(200),
    rulesEnabled: z.boolean(),
    egress: z.enum(EGRESS_POLICIES).optional(),
  })
  .openapi('RegionInput');

export const regionSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    rulesEnabled: z.boolean(),
    egress: z.string(),
    snapshotVersion: z.number(),
    snapshotPending: z.boolean().openapi({
      description:
        "true while a change the region's snapshot carries (a record, suppression or outbound registration of a deployment routed here) is not built yet: the region's edges do not have it, and `snapshotVersion` moves on when it is built (after the publisher's quiet period)",
    }),
    edgeSnapshotVersion: z.number().nullable(),
    lastHeartbeatAt: z.number().nullable(),
    edgeUrl: z.string().nullable(),
    updatedAt: z.number(),
  })
  .openapi('Region');

// ---------------------------------------------------------------------------------------------
// mailboxes

export const emailAddress = z
  .string()
  .trim()
  .max(320)
  .regex(/^[^\s@<>()",;:]+@[^\s@<>()",;:]+\.[^\s@<>()",;:]+$/, 'must be an e-mail address')
  .transform((s) => s.toLowerCase());

export const mailboxBody = z
  .object({
    region: z.string().min(1).max(32),
    deployment: z.string().min(1).max(63),
    userId: z.string().min(1).max(200),
    filter: z.enum(FILTER_MODES).default('email-enabled'),
  })
  .openapi('MailboxRouteInput');

export const mailboxSchema = z
  .object({
    address: z.string(),
    region: z.string(),
    deployment: z.string(),
    userId: z.string(),
    filter: z.enum(FILTER_MODES),
    createdAt: z.number(),
    updatedAt: z.number(),
  })
  .openapi('MailboxRoute');

// ---------------------------------------------------------------------------------------------
// records and suppressions

/** Records per all-or-nothing chunk (one D1 transaction each). */
export const RECORD_CHUNK = 500;
/**
 * Most records in one request (with MAX_RECORDS_BODY_BYTES, 16 MiB, in body-limits.ts): what an
 * isolate holds once parsed. Bigger imports are split by the client (the CLI posts 5,000 per call).
 */
export const MAX_RECORDS_PER_REQUEST = 50_000;

export const recordInput = z.object({
  type: z.enum(RECORD_TYPES),
  id: z.string().trim().min(1).max(200),
  name: z.string().max(500).optional(),
  emails: z.array(emailAddress).max(20),
  emailEnabled: z.boolean().default(true),
});

export const recordsBody = z
  .object({ records: z.array(recordInput).min(1).max(MAX_RECORDS_PER_REQUEST) })
  .openapi('RecordsInput');

export const rowError = z
  .object({
    line: z
      .number()
      .optional()
      .openapi({ description: 'CSV: physical line of the row (the header is line 1)' }),
    index: z.number().optional().openapi({ description: 'JSON: position in `records`' }),
    field: z.string(),
    message: z.string(),
  })
  .openapi('RecordRowError');

export const importResult = z
  .object({
    created: z.number(),
    updated: z.number(),
    rejected: z.number().openapi({ description: 'invalid rows skipped (`onInvalid=skip`) or refused' }),
    chunks: z.number().openapi({ description: `chunks of ${RECORD_CHUNK} records the valid rows make` }),
    landedChunks: z.number().openapi({ description: 'chunks written (each all-or-nothing)' }),
    errors: z.array(rowError),
    dryRun: z.boolean(),
    sync: z.string().optional().openapi({ description: 'the sync the records were stamped with' }),
    removed: z
      .number()
      .optional()
      .openapi({ description: '`mode=replace`: records removed because they were not in the request' }),
  })
  .openapi('RecordImportResult');

export const recordSchema = z
  .object({
    type: z.enum(RECORD_TYPES),
    id: z.string(),
    name: z.string().nullable(),
    emails: z.array(z.string()),
    emailEnabled: z.boolean(),
    active: z.boolean().openapi({ description: 'false once deactivated (it then matches nothing)' }),
    updatedAt: z.number(),
  })
  .openapi('Record');

export const recordCounts = z
  .object({ user: z.number(), contact: z.number(), account: z.number(), lead: z.number(), total: z.number() })
  .openapi('RecordCounts');

export const suppressionEntry = z
  .string()
  .trim()
  .max(320)
  .regex(
    /^([^\s@<>]+@)?[^\s@<>]+\.[^\s@<>]+$|^@[^\s@<>]+\.[^\s@<>]+$/,
    'an address (a@x.com) or a domain (@x.com)',
  )
  .transform((s) => s.toLowerCase());

export const suppressionSchema = z
  .object({ entry: z.string(), createdAt: z.number() })
  .openapi('Suppression');

// ---------------------------------------------------------------------------------------------
// activities, receipts, dead letters

export const activitySchema = z
  .object({
    id: z.string(),
    deployment: z.string(),
    messageId: z.string().nullable(),
    subject: z.string().nullable(),
    from: z.string().nullable(),
    fromName: z.string().nullable(),
    parties: z.array(
      z.object({
        role: z.enum(['from', 'to', 'cc']),
        address: z.string(),
        name: z.string().optional(),
        recordType: z.string().optional(),
        recordId: z.string().optional(),
      }),
    ),
    regarding: z.object({ type: z.string(), id: z.string() }).nullable(),
    correlation: z.object({ method: z.string(), detail: z.string() }),
    reason: z.string(),
    mailboxes: z.array(z.string()),
    regions: z.array(z.string()),
    egress: z.string(),
    sizeBytes: z.number(),
    content: z
      .any()
      .describe(
        "the copies kept in their regions (`forwardedBy`: whose forward each is); a user token sees only its own mailboxes' copies",
      ),
    bodyHeldRegionally: z
      .boolean()
      .describe(
        "the stored body is only the beginning: the whole text is in the region's store (content link kind `text`)",
      ),
    partiesHeldRegionally: z
      .boolean()
      .describe(
        "more than 1000 To or Cc recipients or more than 100 routed mailboxes: the whole lists are in the region's store (kind `parties`)",
      ),
    notes: z
      .array(z.string())
      .optional()
      .describe(
        'present when the edge had to fit a copy to the wire schema — what it cut or held back: display names cut to 500 characters, impossible addresses left out, attachments beyond 500 only in the raw copy, a body the parser refused (headers only)',
      ),
    crmObject: z
      .object({ kind: z.string(), id: z.string(), url: z.string().optional() })
      .optional()
      .describe(
        "the CRM object the activity became, once its deployment's connector delivered it (`url`: open it in the CRM)",
      ),
    receivedAt: z.number(),
    ingestedAt: z.number(),
    updatedAt: z.number(),
  })
  .openapi('Activity');

export const webhookDeliverySchema = z
  .object({
    id: z.string(),
    activityId: z.string(),
    deployment: z.string(),
    event: z.string(),
    state: z.enum(['pending', 'delivered', 'failed']),
    attempts: z.number(),
    lastStatus: z.number().nullable(),
    lastError: z.string().nullable().optional().openapi({
      description:
        "why the last attempt failed, in central's words (never the CRM's answer); admin and deployment tokens only",
    }),
    nextAttemptAt: z.number().nullable(),
    createdAt: z.number(),
    updatedAt: z.number(),
    deliveredAt: z.number().nullable(),
  })
  .openapi('WebhookDelivery');

export const activityDetailSchema = activitySchema
  .extend({
    webhookDeliveries: z
      .array(webhookDeliverySchema)
      .describe("onward deliveries of this activity to its deployment's CRM webhook, newest first"),
  })
  .openapi('ActivityDetail');

export const dispositionSchema = z
  .object({
    id: z.string(),
    region: z.string(),
    reason: z.string(),
    detail: z.string().nullable(),
    mailbox: z.string().nullable(),
    deployment: z.string().nullable(),
    sizeBytes: z.number(),
    at: z.number(),
  })
  .openapi('Disposition');

export const deadLetterSchema = z
  .object({
    id: z.string(),
    region: z.string(),
    deployment: z.string().nullable(),
    error: z.string(),
    attempts: z.number(),
    createdAt: z.number(),
    replayedAt: z.number().nullable(),
    replayResult: z.string().nullable(),
    messageId: z.string().nullable(),
  })
  .openapi('DeadLetter');

export const replayResult = z.object({
  deadLetter: z.string(),
  id: z.string(),
  status: z.enum(['accepted', 'merged', 'rejected']),
  reason: z.string().optional(),
  activityId: z.string().optional(),
});

// ---------------------------------------------------------------------------------------------
// outbound mail, rule scripts, tokens

export const outboundInput = z
  .object({
    messageId: z
      .string()
      .max(998)
      .refine((s) => normaliseMessageId(s).length > 0, 'must be a Message-ID')
      .openapi({ example: '<quote-42@crm.contoso.example>' }),
    userId: z.string().trim().min(1).max(200),
    subject: z.string().max(10_000).optional(),
    to: z.array(emailAddress).max(1000).optional(),
    threadIndex: z
      .string()
      .trim()
      .min(1)
      .max(1000)
      .optional()
      .openapi({ description: 'Outlook Thread-Index (base64)' }),
    regarding: z
      .object({ type: z.string().trim().min(1).max(100), id: z.string().trim().min(1).max(200) })
      .optional()
      .openapi({ description: 'the CRM record the mail is about; replies inherit it' }),
  })
  .openapi('OutboundInput');

export const outboundResult = z
  .object({
    trackingToken: z.string().openapi({ example: 'CRM:0001001' }),
    subject: z
      .string()
      .openapi({ description: 'the subject with the token appended, to send the mail with' }),
    messageId: z.string().openapi({ description: 'the normalised Message-ID that replies are matched on' }),
  })
  .openapi('OutboundRegistration');

export const rulesSchema = z
  .object({
    region: z.string(),
    format: z.enum(RULE_FORMATS),
    rulesEnabled: z.boolean(),
    edgeAddress: z.string(),
    mailboxes: z.array(z.string()),
    script: z.string(),
  })
  .openapi('RuleScript');

export const SCOPE_HELP =
  'admin, deployment:<id>, edge:<region>, user:<deployment>/<userId> or relay:<deployment>';

export const tokenInput = z
  .object({
    scope: z.string().min(1).max(300).openapi({ example: 'deployment:contoso', description: SCOPE_HELP }),
    label: z.string().trim().max(200).optional(),
  })
  .openapi('TokenInput');

export const tokenSchema = z
  .object({
    id: z.string(),
    scope: z.string(),
    label: z.string().nullable(),
    createdAt: z.number(),
    revokedAt: z.number().nullable(),
    lastUsedAt: z.number().nullable(),
  })
  .openapi('Token');

export const createdToken = z
  .object({
    id: z.string(),
    token: z.string().openapi({ description: 'the bearer token; shown once, stored only as a SHA-256 hash' }),
    scope: z.string(),
    label: z.string().nullable(),
    createdAt: z.number(),
  })
  .openapi('CreatedToken');

// ---------------------------------------------------------------------------------------------
// stats

const latencySchema = z.object({
  p50: z.number().nullable(),
  p95: z.number().nullable(),
  p99: z.number().nullable(),
  samples: z.number(),
});

const crossRegionDirections = z.object({ toCentral: z.number(), fromCentral: z.number() });

const crossRegionSchema = z
  .object({
    bytesToCentral: z.number(),
    bytesFromCentral: z.number(),
    byKind: z.object({
      ingest: crossRegionDirections,
      snapshot: crossRegionDirections,
      notice: crossRegionDirections,
      heartbeat: crossRegionDirections,
      spool: crossRegionDirections,
      canary: crossRegionDirections,
    }),
  })
  .openapi('CrossRegionBytes', {
    description:
      'every byte between the region and central in both directions, by kind: HTTP request and answer heads and bodies as sent (compressed bodies compressed), reported by the edges with their heartbeats, notices counted by central (0 for the home region)',
  });

const trafficFields = {
  received: z.number(),
  receivedBytes: z.number(),
  crmBound: z.number(),
  crmBoundBytes: z.number(),
  tossed: z.record(z.string(), z.number()),
  bytesSent: z.number(),
  crossRegionBytes: z
    .number()
    .openapi({ description: 'bytes that crossed regions to reach central (0 for the home region)' }),
  forwardAllCrossRegionBytes: z
    .number()
    .openapi({ description: 'what forwarding every message to central would have sent across regions' }),
  crossRegionBytesRatio: z.number().nullable(),
  hopsPerCrmBound: z.number(),
  hopsSaved: z.number(),
  latencyMs: latencySchema,
  crossRegion: crossRegionSchema,
};

export const regionStatsSchema = z
  .object({
    region: z.string(),
    name: z.string(),
    rulesEnabled: z.boolean(),
    egress: z.string(),
    healthy: z.boolean(),
    lastHeartbeatAt: z.number().nullable(),
    snapshotVersion: z.number(),
    edgeSnapshotVersion: z.number().nullable(),
    snapshotVersionLag: z.number().nullable(),
    queueDepth: z.number().nullable(),
    ...trafficFields,
    canary: z.object({ lastRoundTripMs: z.number().nullable(), at: z.number().nullable() }).openapi({
      description:
        "the region's last canary (a signed synthetic message through its ingress, edge and central every 5 minutes, never delivered to a CRM): edge send → central commit in ms, and when central recorded it; a region whose canary is older than 15 minutes is not healthy",
    }),
    series: z.array(
      z.object({ minute: z.number(), received: z.number(), crmBound: z.number(), bytesSent: z.number() }),
    ),
  })
  .openapi('RegionStats');

export const statsSchema = z
  .object({
    since: z.number(),
    homeRegion: z.string(),
    regions: z.array(regionStatsSchema),
    total: z.object(trafficFields),
  })
  .openapi('Stats');

/** One record named by its key (type and CRM id). */
export const recordKey = z.object({ type: z.enum(RECORD_TYPES), id: z.string().trim().min(1).max(200) });
/** Most records one bulk delete or deactivate names. */
export const MAX_RECORD_KEYS_PER_REQUEST = 50_000;
/** The keys of a bulk delete or deactivate: the API's body, and the check of the dashboard's bulk form. */
export const bulkRemoveBody = z
  .object({ records: z.array(recordKey).min(1).max(MAX_RECORD_KEYS_PER_REQUEST) })
  .openapi('RecordKeys');

/** Most routes in one bulk request (5,000 users onboard in one call). */
export const MAX_ROUTES_PER_REQUEST = 10_000;

export const routeRowError = z
  .object({
    line: z.number().optional().openapi({ description: 'CSV: physical line (the header is line 1)' }),
    index: z.number().optional().openapi({ description: 'JSON: position in `routes`' }),
    field: z.string(),
    message: z.string(),
  })
  .openapi('MailboxRowError');

// A plain object over the shape: zod throws on null for `.extend` of an `.openapi()` schema (fuzz-api.test.ts).
export const bulkRouteInput = z.object({ ...mailboxBody.shape, address: emailAddress });
export const bulkRoutesBody = z
  .object({ routes: z.array(bulkRouteInput).min(1).max(MAX_ROUTES_PER_REQUEST) })
  .openapi('MailboxRoutesInput');
export const bulkResult = z
  .object({ created: z.number(), moved: z.number(), updated: z.number(), dryRun: z.boolean() })
  .openapi('MailboxImportResult');

export const moveBody = z.object({
  region: z.string().min(1).max(32),
  addresses: z.array(emailAddress).min(1).max(MAX_ROUTES_PER_REQUEST).optional(),
  deployment: z.string().min(1).max(63).optional(),
  search: z.string().min(1).max(320).optional(),
});

export type MoveRequest = z.infer<typeof moveBody>;

export type RouteRowError = z.infer<typeof routeRowError>;
