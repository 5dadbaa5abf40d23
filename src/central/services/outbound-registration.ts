// Registering outgoing CRM mail (POST …/outbound, and the connectors' pull of mail sent from the
// CRM): a tracking token per Message-ID, remembered so that replies correlate.
import { normaliseMessageId } from '../../core/keyed-hash.js';
import { addTokenToSubject, formatTrackingToken } from '../../core/tracking-token.js';
import type { TokenFormat } from '../../core/types.js';
import type { Db } from '../../db/client.js';
import type { DeploymentRow } from '../../db/queries/deployments.js';
import { findOutbound, insertOutbound, issueCounter } from '../../db/queries/outbound.js';
import { markPartChanged } from '../../db/queries/snapshot-parts.js';
import { conflict } from '../http/errors.js';

export interface OutboundRegistration {
  messageId: string;
  userId: string;
  subject?: string;
  to?: string[];
  threadIndex?: string;
  regarding?: { type: string; id: string };
}

/**
 * Registers one outgoing message; `created` false when the same Message-ID was registered for the
 * same user before (its first token is answered). A 409 when it belongs to another user or the
 * deployment ran out of user numbers. The caller records the change (`configChanged('outbound')`).
 */
export async function registerOutbound(db: Db, deployment: DeploymentRow, body: OutboundRegistration) {
  const id = deployment.id;
  const messageId = normaliseMessageId(body.messageId);
  const existing = await findOutbound(db, id, messageId);
  if (existing) {
    if (existing.userId !== body.userId)
      throw conflict(`messageId ${messageId} is already registered for another user`);
    return {
      created: false,
      trackingToken: existing.trackingToken,
      subject: existing.subject ?? '',
      messageId,
    };
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
    return { created: false, trackingToken: winner.trackingToken, subject: winner.subject ?? '', messageId };
  }
  await markPartChanged(db, id);
  return { created: true, trackingToken, subject, messageId };
}
