// Outbound registration: a tracking token issued for outgoing CRM mail and its Message-ID
// remembered, so replies correlate at the edge (POST /api/v1/deployments/:id/outbound).
import { normaliseMessageId } from '../../core/keyed-hash.js';
import { addTokenToSubject, formatTrackingToken } from '../../core/tracking-token.js';
import type { TokenFormat } from '../../core/types.js';
import type { Db } from '../../db/client.js';
import { findOutbound, insertOutbound, issueCounter } from '../../db/queries/outbound.js';
import { markPartChanged } from '../../db/queries/snapshot-parts.js';
import type { z } from '@hono/zod-openapi';
import type { outboundInput } from '../contract/schemas.js';
import { conflict } from '../http/errors.js';
import { type ChangeSite, configChanged } from '../snapshot/config-changed.js';
import { requireDeployment } from './deployment-admin.js';

export interface OutboundRegistration {
  /** 201: newly registered; 200: the same user registered this Message-ID before. */
  status: 200 | 201;
  trackingToken: string;
  subject: string;
  messageId: string;
}

/**
 * Registers one outgoing message of `deployment`: the token issued the first time for a known
 * Message-ID of the same user, else a new token from the user's counter (409 when the Message-ID
 * belongs to another user or the deployment has no free user number).
 */
export async function registerOutbound(
  db: Db,
  site: ChangeSite,
  id: string,
  body: z.infer<typeof outboundInput>,
): Promise<OutboundRegistration> {
  const deployment = await requireDeployment(db, id);
  const messageId = normaliseMessageId(body.messageId);

  const existing = await findOutbound(db, id, messageId);
  if (existing) {
    if (existing.userId !== body.userId)
      throw conflict(`messageId ${messageId} is already registered for another user`);
    return { status: 200, trackingToken: existing.trackingToken, subject: existing.subject ?? '', messageId };
  }

  const format: TokenFormat = {
    prefix: deployment.tokenPrefix,
    deploymentBase: deployment.tokenBase,
    userDigits: deployment.tokenUserDigits,
    counterDigits: deployment.tokenCounterDigits,
  };
  const issued = await issueCounter(
    db,
    id,
    body.userId,
    10 ** format.userDigits - 1,
    10 ** format.counterDigits - 1,
  );
  if (!issued)
    throw conflict(
      `deployment ${id} has no free user number: trackingToken.userDigits ${format.userDigits} allows ${10 ** format.userDigits - 1} users`,
    );
  let trackingToken: string;
  try {
    trackingToken = formatTrackingToken(format, issued.userNumber, issued.counter);
  } catch (err) {
    throw conflict(`cannot issue a token for ${body.userId}: ${(err as Error).message}`);
  }
  const subject = addTokenToSubject(body.subject ?? '', trackingToken);
  const inserted = await insertOutbound(db, {
    deployment: id,
    messageId,
    userId: body.userId,
    subject,
    to: body.to ?? null,
    trackingToken,
    threadIndex: body.threadIndex ?? null,
    regardingType: body.regarding?.type ?? null,
    regardingId: body.regarding?.id ?? null,
    createdAt: Date.now(),
  });
  if (!inserted) {
    // A concurrent call registered the same Message-ID first: answer with its token.
    const winner = await findOutbound(db, id, messageId);
    if (!winner || winner.userId !== body.userId)
      throw conflict(`messageId ${messageId} is already registered for another user`);
    return { status: 200, trackingToken: winner.trackingToken, subject: winner.subject ?? '', messageId };
  }
  await markPartChanged(db, id);
  configChanged(site, 'outbound');
  return { status: 201, trackingToken, subject, messageId };
}
