// The routing snapshot most core tests classify against: region `us`, deployment `contoso`,
// routed mailbox alice@contoso.example, a handful of CRM records and one registered outbound mail.
import { buildSnapshot, type RoutingSnapshot, type SnapshotInput } from '../../src/core/snapshot.js';
import { DEFAULT_TOKEN_FORMAT } from '../../src/core/tracking-token.js';
import type { FilterMode } from '../../src/core/types.js';

export const HASH_KEY = '000102030405060708090a0b0c0d0e0f';
export const OUTBOUND_MESSAGE_ID = '<out-1001@crm.contoso.example>';
/** Conversation root (22 bytes) of the outbound mail's Thread-Index; the fixtures reply within it. */
export const OUTBOUND_THREAD_ROOT = 'Ado/XI4hah8MPpstTI+OGis8TV5vcA==';
/** A reply's Thread-Index: the root plus one 5-byte child block. */
export const REPLY_THREAD_INDEX = 'Ado/XI4hah8MPpstTI+OGis8TV5vcAAAEjRW';

export function contosoInput(filter: FilterMode = 'responses'): SnapshotInput {
  return {
    region: 'us',
    version: 7,
    builtAt: 1_710_000_000_000,
    hashKey: HASH_KEY,
    rulesEnabled: true,
    egress: 'full',
    mailboxes: [
      { address: 'Alice Adams <Alice@Contoso.example>', deployment: 'contoso', userId: 'user-0001', filter },
    ],
    deployments: [
      {
        id: 'contoso',
        token: DEFAULT_TOKEN_FORMAT,
        maxMessageBytes: 10 * 1024 * 1024,
        attachmentPolicy: 'regional',
        smartMatch: true,
        suppressions: ['spam@example.com', '@blocked.example.net'],
        records: [
          { address: 'carol@example.org', type: 'contact', emailEnabled: true },
          { address: 'dave@example.net', type: 'lead', emailEnabled: true },
          { address: 'erin@example.com', type: 'account', emailEnabled: false },
          { address: 'bob@contoso.example', type: 'user', emailEnabled: true },
          { address: 'alice@contoso.example', type: 'user', emailEnabled: true },
        ],
        outbound: [
          {
            messageId: OUTBOUND_MESSAGE_ID,
            threadIndex: OUTBOUND_THREAD_ROOT,
            subject: 'Quote for 40 licences',
            to: ['carol@example.org', 'procurement@example.org'],
          },
        ],
      },
    ],
  };
}

export function contosoSnapshot(
  filter: FilterMode = 'responses',
  change?: (input: SnapshotInput) => void,
): RoutingSnapshot {
  const input = contosoInput(filter);
  change?.(input);
  return buildSnapshot(input);
}
