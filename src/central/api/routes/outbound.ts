import { z } from '@hono/zod-openapi';
import { outboundInput, outboundResult } from '../../contract/schemas.js';
import { normaliseMessageId } from '../../../core/keyed-hash.js';
import { addTokenToSubject, formatTrackingToken } from '../../../core/tracking-token.js';
import type { TokenFormat } from '../../../core/types.js';
import { markPartChanged } from '../../../db/queries/snapshot-parts.js';
import { changeSite, configChanged } from '../../snapshot/config-changed.js';
import { findDeployment } from '../../../db/queries/deployments.js';
import { findOutbound, insertOutbound, issueCounter } from '../../../db/queries/outbound.js';
import { createRouter } from '../../http/app-router.js';
import { assertDeploymentAccess } from '../../http/auth.js';
import { conflict, forbidden, notFound } from '../../http/errors.js';
import { apiRoute, errorSchema, jsonBody, jsonResponse } from '../../contract/openapi-helpers.js';

const registerOutbound = apiRoute('post', '/deployments/{id}/outbound', 'outbound', {
  summary: 'Register outgoing CRM mail: issue a tracking token and remember the Message-ID for replies',
  description:
    "Each user gets a stable number within the deployment on first use; the user's counter advances with every registration and wraps after the largest value `counterDigits` holds. Registering the same Message-ID again returns the token issued the first time (200) without using a new counter.",
  request: { params: z.object({ id: z.string().min(1).max(63) }), body: jsonBody(outboundInput) },
  responses: {
    201: jsonResponse(outboundResult, 'registered; send the mail with this subject'),
    200: jsonResponse(outboundResult, 'already registered (same user): the token issued then'),
    409: jsonResponse(
      errorSchema,
      'the Message-ID belongs to another user, or the deployment ran out of user numbers',
    ),
  },
});

export const outboundRoutes = createRouter().openapi(registerOutbound, async (c) => {
  const { id } = c.req.valid('param');
  const body = c.req.valid('json');
  const principal = c.get('principal');
  assertDeploymentAccess(principal, id);
  if (principal.kind === 'user' && principal.userId !== body.userId)
    throw forbidden(`a user token of ${principal.userId} may not register mail for ${body.userId}`);
  const db = c.get('db');
  const deployment = await findDeployment(db, id);
  if (!deployment) throw notFound(`deployment ${id} does not exist`);
  const messageId = normaliseMessageId(body.messageId);

  const existing = await findOutbound(db, id, messageId);
  if (existing) {
    if (existing.userId !== body.userId)
      throw conflict(`messageId ${messageId} is already registered for another user`);
    return c.json({ trackingToken: existing.trackingToken, subject: existing.subject ?? '', messageId }, 200);
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
    return c.json({ trackingToken: winner.trackingToken, subject: winner.subject ?? '', messageId }, 200);
  }
  await markPartChanged(db, id);
  configChanged(changeSite(c), 'outbound');
  return c.json({ trackingToken, subject, messageId }, 201);
});
