import { z } from '@hono/zod-openapi';
import { apiRoute, errorSchema, jsonBody, jsonResponse } from '../../contract/openapi-helpers.js';
import { outboundInput, outboundResult } from '../../contract/schemas.js';
import { createRouter } from '../../http/app-router.js';
import { assertDeploymentAccess } from '../../http/auth.js';
import { forbidden } from '../../http/errors.js';
import { registerOutboundMail } from '../../services/outbound.js';
import { changeSite } from '../../snapshot/config-changed.js';

const registerOutboundRoute = apiRoute('post', '/deployments/{id}/outbound', 'outbound', {
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

export const outboundRoutes = createRouter().openapi(registerOutboundRoute, async (c) => {
  const { id } = c.req.valid('param');
  const body = c.req.valid('json');
  const principal = c.get('principal');
  assertDeploymentAccess(principal, id);
  if (principal.kind === 'user' && principal.userId !== body.userId)
    throw forbidden(`a user token of ${principal.userId} may not register mail for ${body.userId}`);
  const { status, ...registered } = await registerOutboundMail(c.get('db'), changeSite(c), id, body);
  return c.json(registered, status);
});
