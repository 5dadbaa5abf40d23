// The connector's answers (design §4, "CRM connectors"), shared by its routes and GET /stats.
import { z } from '@hono/zod-openapi';
import { CONNECTOR_KINDS } from '../connectors/types.js';

export const connectorStatusSchema = z
  .object({
    state: z.enum(['ok', 'syncing', 'paused', 'failing']).openapi({
      description:
        '`paused`: the CRM refused the credentials (401/403); deliveries wait, none is lost, until a PUT or a passing test resumes it. `failing`: the last attempt failed and is being retried. `syncing`: a record sync is under way.',
    }),
    lastDeliveryAt: z.number().optional(),
    lastSyncAt: z.number().optional(),
    backlog: z.number().openapi({ description: 'deliveries waiting (pending outbox rows)' }),
    lagMsP50: z.number().optional().openapi({
      description: 'commit at central → accepted by the CRM, median over the latest 1,000 first deliveries',
    }),
    lagMsP99: z.number().optional(),
    errors: z.record(z.string(), z.number()).openapi({
      description:
        'failed deliveries and retrying ones, by how their last attempt ended: unauthorized, rate-limited, retry, refused, config',
    }),
    sync: z
      .object({ id: z.string(), done: z.number(), total: z.number().optional(), startedAt: z.number() })
      .optional()
      .openapi({
        description: 'the record sync under way: records applied so far and, when the CRM says, the total',
      }),
    pauseReason: z.string().optional().openapi({ description: 'never for user tokens' }),
    lastError: z.string().optional().openapi({ description: 'never for user tokens' }),
    lastErrorAt: z.number().nullable().optional(),
  })
  .openapi('ConnectorStatus');

export const connectorSchema = z
  .object({
    kind: z.enum(CONNECTOR_KINDS),
    settings: z.record(z.string(), z.unknown()).optional().openapi({ description: 'never for user tokens' }),
    secrets: z
      .record(z.string(), z.enum(['set', 'not set']))
      .optional()
      .openapi({
        description: 'which secrets are stored: never their values (they are write-only)',
      }),
    status: connectorStatusSchema,
    webhookSecret: z.string().optional().openapi({
      description: 'kind `webhook`: the signing secret, shown once to an admin when the URL is first set',
    }),
  })
  .openapi('Connector');
