// What the loopback stand-in for a tenant's CRM (test/support/crm-receiver.ts) answers: bodies
// that must never reach a tenant through central.
export const CRM_ANSWER_SECRET = 'CRM-INTERNAL-ANSWER pg://crm:hunter2@10.0.0.7/crm';
export const INTERNAL_SECRET = 'INTERNAL-METADATA iam/security-credentials/role';

declare module 'vitest' {
  interface ProvidedContext {
    /** Base URL of the stand-in CRM receiver on loopback. */
    crmReceiver: string;
  }
}
