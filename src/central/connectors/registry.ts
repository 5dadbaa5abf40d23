// Connector kind → adapter. An adapter is added here with one line once its module exists; a kind
// without an adapter is refused by PUT …/connector (400) and its rows fail with a readable reason.
import type { ConnectorAdapter, ConnectorKind } from './types.js';
import { trytonAdapter } from './tryton.js';
import { webhookAdapter } from './webhook.js';

export type AdapterRegistry = Partial<Record<ConnectorKind, ConnectorAdapter>>;

export const connectorAdapters: AdapterRegistry = {
  webhook: webhookAdapter,
  tryton: trytonAdapter,
};

export function adapterFor(kind: string, registry: AdapterRegistry = connectorAdapters) {
  return registry[kind as ConnectorKind];
}
