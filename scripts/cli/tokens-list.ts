// crm-router tokens list: lists tokens (never their plaintext).
import { type Command, print, type Settings, table, type Values } from './common.js';

export const tokensList: Command = {
  usage: 'crm-router tokens list',
  about: 'Lists tokens (never their plaintext).',
  options: {},
  run,
};

async function run(cfg: Settings, values: Values) {
  const res = await cfg.api.tokens.list();
  print(
    values,
    res,
    table(
      res.items.map((t) => ({
        id: t.id,
        scope: t.scope,
        label: t.label ?? '',
        created: new Date(t.createdAt).toISOString(),
        revoked: t.revokedAt ? new Date(t.revokedAt).toISOString() : '',
      })),
      ['id', 'scope', 'label', 'created', 'revoked'],
    ),
  );
}
