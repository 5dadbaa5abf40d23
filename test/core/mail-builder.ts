// Builds small RFC 5322 messages for classifier tables; realistic shapes live in test/fixtures/emails.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface MailSpec {
  from?: string;
  to?: string;
  cc?: string;
  subject?: string;
  messageId?: string | null;
  date?: string;
  /** Extra header lines, in order (`['Precedence: bulk']`). */
  headers?: string[];
  contentType?: string;
  body?: string;
}

/** A CRLF message; `messageId: null` leaves the Message-ID out. */
export function mail(spec: MailSpec = {}): Uint8Array {
  const lines: string[] = [];
  for (const h of spec.headers ?? []) lines.push(h);
  lines.push(`From: ${spec.from ?? 'Carol Customer <carol@example.org>'}`);
  lines.push(`To: ${spec.to ?? 'Alice Adams <alice@contoso.example>'}`);
  if (spec.cc) lines.push(`Cc: ${spec.cc}`);
  lines.push(`Subject: ${spec.subject ?? 'Hello'}`);
  lines.push(`Date: ${spec.date ?? 'Tue, 12 Mar 2024 09:14:58 +0000'}`);
  if (spec.messageId !== null) lines.push(`Message-ID: <${spec.messageId ?? 'msg-1@example.org'}>`);
  lines.push('MIME-Version: 1.0');
  lines.push(`Content-Type: ${spec.contentType ?? 'text/plain; charset=utf-8'}`);
  return new TextEncoder().encode(`${lines.join('\r\n')}\r\n\r\n${spec.body ?? 'Hello Alice.\r\n'}`);
}

export function fixture(name: string): Uint8Array {
  const path = fileURLToPath(new URL(`../fixtures/emails/${name}`, import.meta.url));
  return new Uint8Array(readFileSync(path));
}
