// The README's headline table is the committed results file's (bench/lib/readme-table.ts): a
// figure there is always one `npm run bench` (or its siblings) wrote.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  headlineInput,
  LATEST_RESULTS,
  renderHeadlineTable,
  TABLE_END,
  TABLE_START,
  withHeadlineTable,
} from '../../bench/lib/readme-table.js';

const readmePath = join(LATEST_RESULTS, '..', '..', 'README.md');

describe("bench/README.md's headline table", () => {
  test('is the table of the committed bench/results/latest.json, figure for figure', () => {
    const readme = readFileSync(readmePath, 'utf8');
    const latest = JSON.parse(readFileSync(LATEST_RESULTS, 'utf8'));
    expect(readme.slice(readme.indexOf(TABLE_START), readme.indexOf(TABLE_END))).toBe(
      `${TABLE_START}\n${renderHeadlineTable(headlineInput(latest))}\n`,
    );
  });

  test('a figure the file does not hold, or a missed target, is said so, never left blank or passed', () => {
    const table = renderHeadlineTable({
      commit: 'abcdef0123',
      ingest: { itemsPerSec: 440, batchSize: 250 },
      targets: { 'ingest.itemsPerSec': { target: '>= 2000', value: 440, met: false } },
    });
    expect(table).toContain('Measured by `npm run bench` at abcdef0');
    const row = (key: string) => table.split('\n').find((l) => l.startsWith(`| \`${key}\``))!;
    expect(row('ingest.itemsPerSec')).toMatch(/440 items\/s \(batches of 250\).*\*\*missed\*\*/);
    expect(row('classify.ratio')).toContain('not in latest.json');
    expect(row('reliability.outageMinutes')).toContain('not in latest.json');
  });

  test("scale.json's ingest with 1 M stored is a row of its own, judged against 5,000 items/s", () => {
    const dir = mkdtempSync(join(tmpdir(), 'readme-table-'));
    try {
      const ingest = (one: number) => ({
        activitiesStored: 1_000_000,
        itemsPerSec: one,
        twoInFlight: { itemsPerSec: one * 1.2 },
      });
      const rowOf = (one: number) => {
        writeFileSync(
          join(dir, 'scale.json'),
          JSON.stringify({ commit: 'feedbeef99', activitiesPhase: { ingest: ingest(one) } }),
        );
        const table = renderHeadlineTable(headlineInput({ commit: '1234567' }, dir));
        expect(table).toContain('`scale.*` at feedbee');
        return table.split('\n').find((l) => l.startsWith('| `scale.ingest.itemsPerSec`')) as string;
      };
      expect(rowOf(3100)).toMatch(
        /3,100 items\/s at 1,000,000 stored, one batch in flight \(two in flight: 3,720\).*\*\*missed\*\*/,
      );
      expect(rowOf(5200)).toMatch(/5,200 items\/s .*\| yes +\|$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('rewrites only the text between its markers', () => {
    const readme = `intro\n${TABLE_START}\nold table\n${TABLE_END}\noutro\n`;
    const out = withHeadlineTable(readme, { commit: '1234567' });
    expect(out.startsWith(`intro\n${TABLE_START}\nMeasured by`)).toBe(true);
    expect(out.endsWith(`${TABLE_END}\noutro\n`)).toBe(true);
    expect(out).not.toContain('old table');
    expect(() => withHeadlineTable('no markers', {})).toThrow(/markers/);
  });
});
