// Connector kind → adapter. A kind without an adapter is refused by PUT …/connector (400) and its rows fail with a readable reason.
import { dynamics365Adapter } from './dynamics365.js';
import { hubspotAdapter } from './hubspot.js';
import { trytonAdapter } from './tryton.js';
import type { ConnectorAdapter, ConnectorKind } from './types.js';
import { webhookAdapter } from './webhook.js';

export type AdapterRegistry = Partial<Record<ConnectorKind, ConnectorAdapter>>;

export const connectorAdapters: AdapterRegistry = {
  webhook: webhookAdapter,
  hubspot: hubspotAdapter,
  dynamics365: dynamics365Adapter,
  tryton: trytonAdapter,
};

export function adapterFor(kind: string, registry: AdapterRegistry = connectorAdapters) {
  return registry[kind as ConnectorKind];
}
