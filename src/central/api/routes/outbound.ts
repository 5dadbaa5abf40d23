import { z } from '@hono/zod-openapi';
import { outboundInput, outboundResult } from '../schemas.js';
import { changeSite, configChanged } from '../../snapshot/config-changed.js';
import { findDeployment } from '../../../db/queries/deployments.js';
import { createRouter } from '../../http/app-router.js';
import { assertDeploymentAccess } from '../../http/auth.js';
import { forbidden, notFound } from '../../http/errors.js';
import { registerOutbound as registerOutboundMail } from '../../services/outbound-registration.js';
import { apiRoute, errorSchema, jsonBody, jsonResponse } from './openapi-helpers.js';

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
  const { created, ...answer } = await registerOutboundMail(db, deployment, body);
  if (created) configChanged(changeSite(c), 'outbound');
  return c.json(answer, created ? 201 : 200);
});
