import { FILTER_MODES, type FilterMode, type RecordType } from '../src/core/types.js';
import type { DeploymentInput, RegionInput } from './central-client.js';
import { REGIONS, type Region } from './regions.js';

// Demo data seeded on first start: two deployments, three regions, 30 routed mailboxes over all five
// filter modes, ~200 CRM records. Tests import it to know what the network contains.
export const DEPLOYMENTS: ({ id: string } & DeploymentInput & {
    trackingToken: { prefix: string; userDigits: number; counterDigits: number };
  })[] = [
  {
    id: 'contoso',
    name: 'Contoso Ltd',
    // No deploymentBase: central assigns the next free one (a user's deployment may hold 0).
    trackingToken: { prefix: 'CRM:', userDigits: 3, counterDigits: 3 },
    domains: ['contoso.example'],
  },
  {
    id: 'fabrikam',
    name: 'Fabrikam Inc',
    trackingToken: { prefix: 'FAB:', userDigits: 3, counterDigits: 4 },
    domains: ['fabrikam.example'],
  },
];

export const REGION_SETTINGS: ({ id: Region } & RegionInput)[] = [
  { id: 'us', name: 'United States (home)', rulesEnabled: true, egress: 'full' },
  { id: 'eu', name: 'Europe', rulesEnabled: true, egress: 'metadata+subject' },
  { id: 'apac', name: 'Asia-Pacific', rulesEnabled: true, egress: 'metadata+subject' },
];

const FIRST_NAMES = [
  'alice',
  'bruno',
  'chen',
  'dana',
  'emil',
  'fumiko',
  'grace',
  'hugo',
  'isha',
  'jonas',
  'kenji',
  'lena',
  'mateo',
  'nadia',
  'oskar',
  'priya',
  'quinn',
  'rafael',
  'sofia',
  'tariq',
  'uma',
  'viktor',
  'wei',
  'ximena',
  'yusuf',
  'zoe',
  'arjun',
  'bea',
  'cyrus',
  'delia',
];

export interface DemoMailbox {
  address: string;
  region: Region;
  deployment: string;
  userId: string;
  filter: FilterMode;
}

export interface DemoRecord {
  type: RecordType;
  id: string;
  emails: string[];
  emailEnabled: boolean;
}

/** Mailbox i: region cycles us/eu/apac; filter cycles every three; 18 contoso, 12 fabrikam. */
export const MAILBOXES: DemoMailbox[] = FIRST_NAMES.map((name, i) => {
  const deployment = i % 5 < 3 ? 'contoso' : 'fabrikam';
  return {
    address: `${name}@${deployment}.example`,
    region: REGIONS[i % REGIONS.length] as Region,
    deployment,
    userId: `u-${name}`,
    filter: FILTER_MODES[Math.floor(i / 3) % FILTER_MODES.length] as FilterMode,
  };
});

/** The first demo mailbox with the given properties. */
export function demoMailbox(match: Partial<DemoMailbox>): DemoMailbox {
  const found = MAILBOXES.find((m) =>
    Object.entries(match).every(([k, v]) => m[k as keyof DemoMailbox] === v),
  );
  if (!found) throw new Error(`no demo mailbox matches ${JSON.stringify(match)}`);
  return found;
}

const LAST = [
  'smith',
  'garcia',
  'muller',
  'rossi',
  'tanaka',
  'kim',
  'novak',
  'silva',
  'dubois',
  'larsen',
  'ivanova',
  'haddad',
  'okafor',
  'nguyen',
  'walsh',
];
const COMPANIES = [
  'northwind',
  'adatum',
  'litware',
  'tailspin',
  'wingtip',
  'proseware',
  'woodgrove',
  'alpine',
  'lucerne',
  'margie',
  'fourthcoffee',
  'blueyonder',
  'coho',
  'trey',
  'wideworld',
];

export function demoRecords(deployment: string): DemoRecord[] {
  const users = MAILBOXES.filter((m) => m.deployment === deployment).map(
    (m): DemoRecord => ({
      type: 'user',
      id: m.userId,
      emails: [m.address],
      emailEnabled: true,
    }),
  );
  const contacts: DemoRecord[] = [];
  for (let i = 0; i < 60; i++) {
    const first = FIRST_NAMES[(i * 7) % FIRST_NAMES.length];
    const last = LAST[i % LAST.length];
    const company = COMPANIES[i % COMPANIES.length];
    contacts.push({
      type: 'contact',
      id: `c-${deployment}-${i}`,
      emails: [`${first}.${last}@${company}.example`],
      emailEnabled: i % 10 !== 9,
    });
  }
  const accounts = COMPANIES.map(
    (company, i): DemoRecord => ({
      type: 'account',
      id: `a-${deployment}-${i}`,
      emails: [`info@${company}.example`],
      emailEnabled: true,
    }),
  );
  const leads: DemoRecord[] = [];
  for (let i = 0; i < 10; i++)
    leads.push({
      type: 'lead',
      id: `l-${deployment}-${i}`,
      emails: [`prospect${i}@leads-${deployment}.example`],
      emailEnabled: true,
    });
  return [...users, ...contacts, ...accounts, ...leads];
}

export const SUPPRESSIONS: Record<string, string[]> = {
  contoso: ['@spam.example', 'newsletter@northwind.example'],
  fabrikam: ['@spam.example'],
};
