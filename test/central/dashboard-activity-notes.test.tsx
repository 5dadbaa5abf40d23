/** @jsxImportSource hono/jsx */
// The dashboard's activity page says what the edges cut or could not parse of the activity's copies
// (issue 19: the items' `notes`), as the API does, mail-borne text escaped.
import { beforeAll, describe, expect, test } from 'vitest';
import { signedIn } from './dashboard-browser.js';
import { itemMaker, sendBatch } from './edge-batch.js';
import { api, seedBasics } from './helpers.js';

const item = itemMaker('noted', () => ({
  contentHash: 'c'.repeat(64),
  receivedAt: Date.now() - 50,
  sizeBytes: 2048,
  correlation: { method: 'all', detail: 'mailbox filter mode is all' },
  from: { address: 'buyer@customer.example' },
  to: [{ address: 'alice@contoso.example' }],
  subject: 'Noted',
  raw: { region: 'us', key: 'raw/contoso/2026-12-06/noted.eml', size: 2048 },
}));

/** An unparsed body's reason is the parser's message, which quotes the sender's own header text. */
const HOSTILE = 'the body could not be parsed (bad header <script>alert(1)</script>): headers only';

/** The activity page's notes panel, from its heading to the end of its section. */
function notesPanel(html: string) {
  const start = html.indexOf('id="notes"');
  return start < 0 ? '' : html.slice(start, html.indexOf('</section>', start));
}

beforeAll(async () => {
  await seedBasics();
  await api('PUT', '/api/v1/mailboxes/alice@contoso.example', {
    body: { region: 'us', deployment: 'contoso', userId: 'u-alice', filter: 'all' },
  });
});

describe('the activity page shows what the edge cut (notes)', () => {
  test('each note of the activity is listed once, escaped', async () => {
    const notes = [
      '2 display names cut to 500 characters',
      '3 attachments beyond 500 only in the raw copy',
      HOSTILE,
    ];
    const first = item();
    const res = await sendBatch({ items: [{ ...first, notes, bodyUnparsed: 'bad header' }] });
    const activityId = res.json.results[0].activityId as string;
    // A second copy of the same message (another region's edge) repeating one note.
    const again = await sendBatch({
      items: [{ ...item(), messageId: first.messageId, region: 'us', notes: [notes[0]!] }],
    });
    expect(again.json.results[0].activityId).toBe(activityId);

    const page = await (await signedIn()).get(`/activities/${activityId}`);
    expect(page.status).toBe(200);
    const panel = notesPanel(page.html);
    expect(panel).toContain('What the edge cut or could not parse');
    expect(panel).toContain('<li>2 display names cut to 500 characters</li>');
    expect(panel).toContain('<li>3 attachments beyond 500 only in the raw copy</li>');
    expect(panel.split('2 display names cut').length - 1).toBe(1);
    expect(panel).toContain('bad header &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page.html).not.toContain('<script>alert(1)</script>');
  });

  test('an activity nothing was cut from has no notes panel', async () => {
    const res = await sendBatch({ items: [item()] });
    const page = await (await signedIn()).get(`/activities/${res.json.results[0].activityId}`);
    expect(page.status).toBe(200);
    expect(notesPanel(page.html)).toBe('');
  });
});
