// The routing snapshot central publishes to each region (design §2): the region's settings, its
// routed mailboxes and, per CRM deployment, what the edge needs to classify. No plaintext address
// or Message-ID is in it: mailboxes and suppressions are keyed hashes, record and outbound sets
// are membership filters over keyed hashes (no false negatives; central re-checks exactly).
import { decodeBase64, encodeBase64 } from './base64.js';
import { type DeltaEntries, sortedMembers, validateFilterDelta } from './filter-delta.js';
import {
  bytesToHex,
  isHashKey,
  keyedHash,
  keyedHash64,
  keyedHashBytes,
  normaliseAddress,
  normaliseMessageId,
  sha256Hex,
} from './keyed-hash.js';
import {
  buildMembershipFilterTyped,
  buildShardedTaggedFilter,
  type DeltaSource,
  FILTER_HEADER_BYTES,
  filterDeltasOf,
  shardBitsFor,
  shardsOf,
  tagMaskFlags,
  validateMembershipFilter,
  withFilterDeltas,
  withTagMask,
} from './membership-filter.js';
import { smartMatchSubject } from './subject.js';
import { parseSuppressionEntry } from './suppression.js';
import { validateTokenFormat } from './tracking-token.js';
import {
  ATTACHMENT_POLICIES,
  type AttachmentPolicy,
  EGRESS_POLICIES,
  type EgressPolicy,
  FILTER_MODES,
  type FilterMode,
  type RecordType,
  type TokenFormat,
} from './types.js';

export { normaliseSubject } from './subject.js';

export interface SnapshotInput {
  region: string;
  version: number;
  builtAt: number;
  /** 32 hex characters: the SipHash key of this region's hashes. */
  hashKey: string;
  rulesEnabled: boolean;
  egress: EgressPolicy;
  mailboxes: Array<{ address: string; deployment: string; userId: string; filter: FilterMode }>;
  /**
   * The region's forwarding addresses (design §4): the edge accepts mail only for these, and only
   * for the deployment an address belongs to. `expiresAt` (epoch ms) ends a rotated-out address.
   * Absent: the edge accepts no mail at all.
   */
  forwarding?: Array<{ address: string; deployment: string; expiresAt?: number }>;
  /** Active relay tokens, already keyed (relayTokenKey needs WebCrypto; this builder is synchronous). */
  relayTokens?: Record<string, RelayTokenTarget>;
  /** Keys per record filter shard (default SHARD_TARGET_KEYS, as central builds; tests use small shards). */
  shardTargetKeys?: number;
  deployments: Array<
    Pick<DeploymentSnapshot, 'token' | 'maxMessageBytes' | 'attachmentPolicy' | 'smartMatch'> & {
      id: string;
      /** Days the deployment keeps mail (null/absent: for ever); the edge expires its regional copies. */
      retentionDays?: number | null;
      /** `'a@x.com'` (one address) or `'@x.com'` (a domain and its subdomains). */
      suppressions: string[];
      records: Array<{ address: string; type: RecordType; emailEnabled: boolean }>;
      outbound: Array<{ messageId: string; threadIndex?: string; subject?: string; to?: string[] }>;
    }
  >;
}

/** A forwarding address of the region, keyed in the snapshot by its keyed hash. */
export interface ForwardingTarget {
  deployment: string;
  /** Epoch ms after which a rotated-out address stops being accepted. */
  expiresAt?: number;
}

/** An active relay token of scope `relay:<deployment>` (relay-token.ts), keyed by its HMAC. */
export interface RelayTokenTarget {
  deployment: string;
  /** The token's id at central: who delivered, for the edge's log. */
  id: string;
}

export interface MailboxRoute {
  deployment: string;
  userId: string;
  filter: FilterMode;
}

export interface DeploymentSnapshot {
  token: TokenFormat;
  maxMessageBytes: number;
  attachmentPolicy: AttachmentPolicy;
  smartMatch: boolean;
  /**
   * Days the deployment keeps mail; the edge's cron deletes the raw messages, attachments and held
   * bodies it stored for the deployment once they are older (absent: kept for ever).
   */
  retentionDays?: number;
  /** keyedHash of suppressed addresses. */
  suppressedAddresses: string[];
  /** keyedHash of suppressed domains (`'x.com'`, without the `@`). */
  suppressedDomains: string[];
  /** Filter over contact, account and lead addresses (the `records` filter mode). */
  records: Uint8Array;
  /** Filter over addresses of every record type, users included, whose emailEnabled is true. */
  emailEnabled: Uint8Array;
  /**
   * Filter over email-enabled contacts, accounts and leads: what a To/Cc recipient must be in the
   * `email-enabled` mode (users count as senders only, design §2).
   */
  emailEnabledRecipients: Uint8Array;
  /** Filter over normalised outbound Message-IDs. */
  outbound: Uint8Array;
  /** keyedHash of the 22-byte conversation root of outbound Thread-Index values (hex of the bytes). */
  threadIndexes: string[];
  /** Outbound messages for smart matching (only when smartMatch is on). */
  smart: Array<{ subject: string; recipients: string[] }>;
}

export interface RoutingSnapshot {
  version: number;
  etag: string;
  region: string;
  builtAt: number;
  hashKey: string;
  rulesEnabled: boolean;
  egress: EgressPolicy;
  /** Keyed by keyedHash(hashKey, normalised address). */
  mailboxes: Record<string, MailboxRoute>;
  /** Keyed by keyedHash(hashKey, normalised forwarding address). */
  forwarding: Record<string, ForwardingTarget>;
  /** Active relay tokens, keyed by relayTokenKey (relay-token.ts); absent: none. */
  relayTokens?: Record<string, RelayTokenTarget>;
  deployments: Record<string, DeploymentSnapshot>;
}

/** Tag bits of the combined record filter. */
export const TAG_RECORD = 1;
export const TAG_EMAIL_ENABLED = 2;

/** The tag of a record address in the combined record filter (0: in no set, leave it out). */
export function recordTag(type: RecordType | string, emailEnabled: boolean): number {
  return (type !== 'user' ? TAG_RECORD : 0) | (emailEnabled ? TAG_EMAIL_ENABLED : 0);
}

/** The three views of one combined (tagged) record filter that a deployment's snapshot carries. */
export function recordFilterViews(
  combined: Uint8Array,
): Pick<DeploymentSnapshot, 'records' | 'emailEnabled' | 'emailEnabledRecipients'> {
  return {
    records: withTagMask(combined, TAG_RECORD),
    emailEnabled: withTagMask(combined, TAG_EMAIL_ENABLED),
    emailEnabledRecipients: withTagMask(combined, 3, true),
  };
}

/**
 * A deployment's snapshot from its JSON section, its combined (tagged) record filter and its
 * outbound filter: what the edge decodes, what buildSnapshot builds, and what a promotion at
 * central classifies with.
 */
export function deploymentSnapshotOf(
  meta: JsonDeployment,
  records: Uint8Array,
  outbound: Uint8Array,
): DeploymentSnapshot {
  return { ...jsonDeploymentOf(meta), ...recordFilterViews(records), outbound };
}

/** Bytes of the conversation root at the start of an Outlook Thread-Index ([MS-OXOMSG] 2.2.1.3). */
export const THREAD_INDEX_ROOT_BYTES = 22;

/** keyedHash of a Thread-Index's conversation root, or undefined if the value is too short. */
export function threadIndexRootHash(hashKey: string, threadIndex: string): string | undefined {
  const bytes = decodeBase64(threadIndex);
  if (bytes.length < THREAD_INDEX_ROOT_BYTES) return undefined;
  return keyedHash(hashKey, bytesToHex(bytes.subarray(0, THREAD_INDEX_ROOT_BYTES)));
}

function sortedUnique(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}

/**
 * Builds a region's snapshot. Deterministic: the same input (in any order) gives the same
 * snapshot and ETag. Throws on an input central should never produce (a bad hash key or token
 * format). A mailbox routed to a deployment missing from the input is kept: the classifier
 * answers `no-route` for it, naming the deployment.
 */
export function buildSnapshot(input: SnapshotInput): RoutingSnapshot {
  if (!isHashKey(input.hashKey)) throw new Error('snapshot hashKey must be 32 hexadecimal characters');
  const key = input.hashKey.toLowerCase();

  const mailboxEntries: Array<[string, MailboxRoute]> = [];
  const seenMailboxes = new Set<string>();
  for (const m of input.mailboxes) {
    const address = normaliseAddress(m.address);
    if (address === '') continue;
    const hash = keyedHash(key, address);
    if (seenMailboxes.has(hash)) continue;
    seenMailboxes.add(hash);
    mailboxEntries.push([hash, { deployment: m.deployment, userId: m.userId, filter: m.filter }]);
  }
  mailboxEntries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

  const forwarding = hashForwarding(key, input.forwarding ?? []);

  const deployments: Record<string, DeploymentSnapshot> = {};
  for (const d of [...input.deployments].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    if (d.id === '__proto__') throw new Error('deployment id "__proto__" is reserved');
    const tokenProblem = validateTokenFormat(d.token);
    if (tokenProblem) throw new Error(`deployment "${d.id}": ${tokenProblem}`);

    const { suppressedAddresses, suppressedDomains } = hashSuppressions(key, d.suppressions);

    const recHi = new Uint32Array(d.records.length);
    const recLo = new Uint32Array(d.records.length);
    const recTags = new Uint8Array(d.records.length);
    let n = 0;
    for (const r of d.records) {
      const address = normaliseAddress(r.address);
      if (address === '') continue;
      const tag = recordTag(r.type, r.emailEnabled);
      if (tag === 0) continue;
      const [hi, lo] = keyedHash64(key, address);
      recHi[n] = hi;
      recLo[n] = lo;
      recTags[n] = tag;
      n++;
    }
    const combined = buildShardedTaggedFilter(
      recHi.subarray(0, n),
      recLo.subarray(0, n),
      recTags.subarray(0, n),
      shardBitsFor(n, input.shardTargetKeys),
    );

    const out = new OutboundAccumulator(key, d.smartMatch, d.token);
    for (const o of d.outbound) out.add(o);
    deployments[d.id] = deploymentSnapshotOf(
      {
        token: { ...d.token },
        maxMessageBytes: d.maxMessageBytes,
        attachmentPolicy: d.attachmentPolicy,
        smartMatch: d.smartMatch,
        ...(d.retentionDays ? { retentionDays: d.retentionDays } : {}),
        suppressedAddresses,
        suppressedDomains,
        threadIndexes: out.threadIndexes(),
        smart: out.smart(),
      },
      combined,
      out.filter(),
    );
  }

  const snapshot: RoutingSnapshot = {
    version: input.version,
    etag: '',
    region: input.region,
    builtAt: input.builtAt,
    hashKey: key,
    rulesEnabled: input.rulesEnabled,
    egress: input.egress,
    mailboxes: Object.fromEntries(mailboxEntries),
    forwarding,
    ...(input.relayTokens && Object.keys(input.relayTokens).length ? { relayTokens: input.relayTokens } : {}),
    deployments,
  };
  snapshot.etag = snapshotEtag(snapshot);
  return snapshot;
}

/**
 * The snapshot's forwarding map: keyed hash of each normalised address → its deployment (and the
 * expiry of a rotated-out address). The same address twice keeps the longest-lived entry.
 */
export function hashForwarding(
  key: string,
  entries: Iterable<{ address: string; deployment: string; expiresAt?: number }>,
): Record<string, ForwardingTarget> {
  const forwardingEntries = new Map<string, ForwardingTarget>();
  for (const f of entries) {
    const address = normaliseAddress(f.address);
    if (address === '') continue;
    const hash = keyedHash(key, address);
    const previous = forwardingEntries.get(hash);
    if (previous && (previous.expiresAt === undefined || (f.expiresAt ?? Infinity) <= previous.expiresAt))
      continue;
    forwardingEntries.set(hash, {
      deployment: f.deployment,
      ...(f.expiresAt !== undefined ? { expiresAt: f.expiresAt } : {}),
    });
  }
  return Object.fromEntries([...forwardingEntries].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
}

/** Keyed hashes of suppression entries: `a@x.com` (an address), `@x.com` or `x.com` (a domain). */
export function hashSuppressions(
  key: string,
  entries: Iterable<string>,
): { suppressedAddresses: string[]; suppressedDomains: string[] } {
  const suppressedAddresses: string[] = [];
  const suppressedDomains: string[] = [];
  // The one suppression rule (core/suppression.ts), also used by promotion at central.
  for (const entry of entries) {
    const parsed = parseSuppressionEntry(entry);
    if (!parsed) continue;
    (parsed.kind === 'domain' ? suppressedDomains : suppressedAddresses).push(keyedHash(key, parsed.value));
  }
  return {
    suppressedAddresses: sortedUnique(suppressedAddresses),
    suppressedDomains: sortedUnique(suppressedDomains),
  };
}

/**
 * Collects a deployment's outbound mail one message at a time (central reads them from D1 in
 * pages): Message-ID keys in typed arrays, Thread-Index roots, smart-match entries.
 */
export class OutboundAccumulator {
  private hi = new Uint32Array(1024);
  private lo = new Uint32Array(1024);
  private n = 0;
  private roots = new Set<string>();
  private entries: Array<{ subject: string; recipients: string[] }> = [];
  constructor(
    private readonly key: string,
    private readonly smartMatch: boolean,
    /** Tracking tokens of this format are removed from subjects before hashing (as Dynamics does). */
    private readonly token: TokenFormat,
  ) {}

  add(o: { messageId: string; threadIndex?: string; subject?: string; to?: string[] }): void {
    const key = this.key;
    const id = normaliseMessageId(o.messageId);
    if (id !== '') {
      if (this.n === this.hi.length) {
        const hi = new Uint32Array(this.n * 2);
        const lo = new Uint32Array(this.n * 2);
        hi.set(this.hi);
        lo.set(this.lo);
        this.hi = hi;
        this.lo = lo;
      }
      const [h, l] = keyedHash64(key, id);
      this.hi[this.n] = h;
      this.lo[this.n] = l;
      this.n++;
    }
    if (o.threadIndex) {
      const root = threadIndexRootHash(key, o.threadIndex);
      if (root) this.roots.add(root);
    }
    if (this.smartMatch && o.subject !== undefined && o.to && o.to.length > 0) {
      const subject = smartMatchSubject(this.token, o.subject);
      const recipients = sortedUnique(
        o.to
          .map((a) => normaliseAddress(a))
          .filter((a) => a !== '')
          .map((a) => keyedHash(key, a)),
      );
      if (subject !== '' && recipients.length > 0)
        this.entries.push({ subject: keyedHash(key, subject), recipients });
    }
  }

  filter(): Uint8Array {
    return buildMembershipFilterTyped(this.hi.subarray(0, this.n), this.lo.subarray(0, this.n));
  }

  /** The Message-ID keys as sorted, distinct members (tag 1): what a delta over the filter is taken against. */
  members(): DeltaEntries {
    return sortedMembers(
      this.hi.subarray(0, this.n),
      this.lo.subarray(0, this.n),
      new Uint8Array(this.n).fill(1),
    );
  }

  threadIndexes(): string[] {
    return [...this.roots].sort();
  }

  smart(): Array<{ subject: string; recipients: string[] }> {
    const smart = this.entries;
    smart.sort((a, b) => {
      const x = a.subject + a.recipients.join(',');
      const y = b.subject + b.recipients.join(',');
      return x < y ? -1 : x > y ? 1 : 0;
    });
    return smart.filter(
      (s, i) =>
        i === 0 ||
        s.subject !== smart[i - 1]?.subject ||
        s.recipients.join() !== smart[i - 1]?.recipients.join(),
    );
  }
}

/** The ETag of a snapshot: a hash of its encoding with an empty etag field. */
export function snapshotEtag(s: RoutingSnapshot): string {
  return sha256Hex(encodeSnapshot({ ...s, etag: '' })).slice(0, 32);
}

// Binary format, little-endian:
//   "CRS" u8 formatVersion(1)
//   u32 jsonLength, JSON (UTF-8) of everything but the filters
//   per deployment in the JSON's `order`: records filter, emailEnabled filter, (format 2:)
//     emailEnabledRecipients filter, outbound filter, each as u32 length + bytes; a length of
//     0xFFFFFFFF means "the records filter's cells with this flags byte" (u8 follows) — the record
//     filters share their cells. Format 1 (no recipients filter) is still read.
//   u32 u32: SipHash (zero key) of everything before, as a corruption check.
const MAGIC = [0x43, 0x52, 0x53];
const FORMAT_VERSION = 2;
/**
 * Format 3 is format 2 whose deployments' JSON sections carry deltas over their filters
 * ({@link JsonDeltas}); written only when some deployment has deltas, so that a reader that knows
 * only format 2 refuses such a snapshot instead of answering from the stale base filters.
 */
const FORMAT_WITH_DELTAS = 3;
const SHARED = 0xffffffff;
const ZERO_KEY = '00000000000000000000000000000000';

/** The JSON section of one deployment: everything but its filters. */
export type JsonDeployment = Omit<
  DeploymentSnapshot,
  'records' | 'emailEnabled' | 'emailEnabledRecipients' | 'outbound'
>;

/** The JSON section of a deployment's snapshot (its fields in the encoding's order). */
export function jsonDeploymentOf(d: JsonDeployment): JsonDeployment {
  return {
    token: d.token,
    maxMessageBytes: d.maxMessageBytes,
    attachmentPolicy: d.attachmentPolicy,
    smartMatch: d.smartMatch,
    ...(d.retentionDays ? { retentionDays: d.retentionDays } : {}),
    suppressedAddresses: d.suppressedAddresses,
    suppressedDomains: d.suppressedDomains,
    threadIndexes: d.threadIndexes,
    smart: d.smart,
  };
}

/**
 * The deltas over a deployment's filters as its JSON section carries them in the whole encoding
 * (docs/decisions.md, "Snapshots by change"): the record filter's shard bits, each changed shard's
 * delta and the outbound filter's delta, Base64. A manifest carries them as parts instead.
 */
export interface JsonDeltas {
  bits: number;
  records: Record<string, string>;
  outbound?: string;
}

/** A deployment's JSON section in the whole encoding: its settings and the deltas over its filters. */
export type JsonDeploymentSection = JsonDeployment & { deltas?: JsonDeltas };

/** Every delta of a source, by shard index. */
export function deltasOfSource(source: DeltaSource | undefined): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  if (!source) return out;
  for (let i = 0; i < 1 << source.bits; i++) {
    if (!source.name(i)) continue;
    const bytes = source.delta(i);
    if (!bytes) throw new Error(`filter delta of shard ${i} is not held`);
    out.set(i, bytes);
  }
  return out;
}

/** The JSON form of the deltas over a deployment's record and outbound filters (undefined: none). */
export function jsonDeltasOf(d: Pick<DeploymentSnapshot, 'records' | 'outbound'>): JsonDeltas | undefined {
  const recordSource = filterDeltasOf(d.records);
  const records = deltasOfSource(recordSource);
  const outbound = deltasOfSource(filterDeltasOf(d.outbound)).get(0);
  if (!records.size && !outbound) return undefined;
  return {
    bits: recordSource?.bits ?? shardsOf(d.records).bits,
    records: Object.fromEntries([...records].map(([i, b]) => [String(i), encodeBase64(b)])),
    ...(outbound ? { outbound: encodeBase64(outbound) } : {}),
  };
}

/** A delta source over the deltas given by shard index (names: `delta-<i>`, all held). */
export function heldDeltaSource(bits: number, deltas: Map<number, Uint8Array>): DeltaSource {
  return {
    bits,
    delta: (i) => deltas.get(i),
    name: (i) => (deltas.has(i) ? `delta-${i}` : ''),
  };
}

/** Reads and checks the deltas of deployment `id`'s JSON section (record shard bits `bits`). */
function readJsonDeltas(
  id: string,
  value: unknown,
  bits: number,
): { records: Map<number, Uint8Array>; outbound?: Uint8Array } {
  const out: { records: Map<number, Uint8Array>; outbound?: Uint8Array } = { records: new Map() };
  if (value === undefined) return out;
  const v = value as Partial<JsonDeltas> | null;
  if (!v || typeof v !== 'object' || v.bits !== bits || !v.records || typeof v.records !== 'object')
    fail(`deployment "${id}" deltas malformed`);
  const bytesOf = (b64: unknown) => {
    if (typeof b64 !== 'string') fail(`deployment "${id}" delta is not Base64`);
    let bytes: Uint8Array;
    try {
      bytes = decodeBase64(b64);
    } catch {
      fail(`deployment "${id}" delta is not Base64`);
    }
    const problem = validateFilterDelta(bytes);
    if (problem) fail(`deployment "${id}" delta: ${problem}`);
    return bytes;
  };
  for (const [k, b64] of Object.entries(v.records)) {
    const i = Number(k);
    if (!/^\d+$/.test(k) || i >= 1 << bits) fail(`deployment "${id}" delta shard ${k} out of range`);
    out.records.set(i, bytesOf(b64));
  }
  if (v.outbound !== undefined) out.outbound = bytesOf(v.outbound);
  return out;
}

function sameCells(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length || a.length < FILTER_HEADER_BYTES) return false;
  for (let i = 0; i < a.length; i++) if (i !== 3 && a[i] !== b[i]) return false;
  return true;
}

/** A filter blob of the encoding: bytes as they are, bytes with another flags byte, or a shared reference. */
type Blob = Uint8Array | { bytes: Uint8Array; flags: number } | number;

/** The JSON section: the header fields, the deployment order and each deployment's JSON part. */
function jsonSection(
  header: Omit<RoutingSnapshot, 'deployments'>,
  order: string[],
  deployments: Record<string, JsonDeploymentSection>,
): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({
      version: header.version,
      etag: header.etag,
      region: header.region,
      builtAt: header.builtAt,
      hashKey: header.hashKey,
      rulesEnabled: header.rulesEnabled,
      egress: header.egress,
      mailboxes: header.mailboxes,
      forwarding: header.forwarding,
      ...(header.relayTokens && Object.keys(header.relayTokens).length
        ? { relayTokens: header.relayTokens }
        : {}),
      order,
      deployments,
    }),
  );
}

/** Writes magic, format, the JSON section, the filter blobs and the checksum. */
/** A blob of the encoding by its length only (its bytes are written later), or a shared reference. */
type BlobSpec = number | { length: number; flags?: number };

/**
 * The encoding laid out in one buffer of its final size: the JSON section and the blobs' length
 * prefixes are written, `at[i]` is where blob i's bytes go (undefined for a shared reference).
 * Once the caller has written every blob's bytes, `seal()` sets the overriding flags bytes and the
 * checksum. The one implementation of the layout: {@link writeEncoding} uses it with bytes in hand;
 * central streams stored parts straight into it ({@link layoutAssembledSnapshot}).
 */
function layoutEncoding(json: Uint8Array, specs: BlobSpec[], format = FORMAT_VERSION) {
  let size = 8 + json.length + 8;
  for (const spec of specs) size += typeof spec === 'number' ? 5 : 4 + spec.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[3] = format;
  view.setUint32(4, json.length, true);
  out.set(json, 8);
  let o = 8 + json.length;
  const at: Array<number | undefined> = [];
  for (const spec of specs) {
    if (typeof spec === 'number') {
      view.setUint32(o, SHARED, true);
      out[o + 4] = spec;
      at.push(undefined);
      o += 5;
    } else {
      view.setUint32(o, spec.length, true);
      at.push(o + 4);
      o += 4 + spec.length;
    }
  }
  const end = o;
  return {
    out,
    at,
    seal(): Uint8Array {
      specs.forEach((spec, i) => {
        if (typeof spec !== 'number' && spec.flags !== undefined) out[(at[i] as number) + 3] = spec.flags;
      });
      const [hi, lo] = checksum(out.subarray(0, end));
      view.setUint32(end, hi, true);
      view.setUint32(end + 4, lo, true);
      return out;
    },
  };
}

function writeEncoding(json: Uint8Array, blobs: Blob[], format = FORMAT_VERSION): Uint8Array {
  const bytesOf = (b: Exclude<Blob, number>) => (b instanceof Uint8Array ? b : b.bytes);
  const layout = layoutEncoding(
    json,
    blobs.map((b) =>
      typeof b === 'number'
        ? b
        : { length: bytesOf(b).length, ...(b instanceof Uint8Array ? {} : { flags: b.flags }) },
    ),
    format,
  );
  blobs.forEach((b, i) => {
    if (typeof b !== 'number') layout.out.set(bytesOf(b), layout.at[i] as number);
  });
  return layout.seal();
}

/** Encodes a snapshot into its compact binary form. */
export function encodeSnapshot(s: RoutingSnapshot): Uint8Array {
  const order = Object.keys(s.deployments);
  const jsonDeployments: Record<string, JsonDeploymentSection> = {};
  const blobs: Blob[] = [];
  for (const id of order) {
    const d = s.deployments[id] as DeploymentSnapshot;
    const deltas = jsonDeltasOf(d);
    jsonDeployments[id] = { ...jsonDeploymentOf(d), ...(deltas ? { deltas } : {}) };
    blobs.push(d.records);
    for (const view of [d.emailEnabled, d.emailEnabledRecipients])
      blobs.push(sameCells(d.records, view) ? (view[3] as number) : view);
    blobs.push(d.outbound);
  }
  const withDeltas = Object.values(jsonDeployments).some((d) => d.deltas);
  return writeEncoding(
    jsonSection(s, order, jsonDeployments),
    blobs,
    withDeltas ? FORMAT_WITH_DELTAS : FORMAT_VERSION,
  );
}

/** One deployment's built part: its JSON section, its combined (tagged) record filter, its outbound filter. */
export interface DeploymentPart {
  id: string;
  meta: JsonDeploymentSection;
  /** Tagged record filter (plain or sharded) as built; the three views are written as flags. */
  records: Uint8Array;
  outbound: Uint8Array;
}

/**
 * Encodes a region's snapshot from built deployment parts without copying their filters into
 * views: the records filter is written once and the emailEnabled and recipients views as shared
 * references (flags only). `etag` is chosen by the caller (central hashes the parts' hashes).
 */
export function encodeAssembledSnapshot(
  header: Omit<RoutingSnapshot, 'deployments'>,
  parts: DeploymentPart[],
): Uint8Array {
  const layout = layoutAssembledSnapshot(
    header,
    parts.map((p) => ({
      id: p.id,
      meta: p.meta,
      recordsLength: p.records.length,
      outboundLength: p.outbound.length,
    })),
  );
  for (const p of parts) {
    layout.out.set(p.records, layout.recordsAt(p.id));
    layout.out.set(p.outbound, layout.outboundAt(p.id));
  }
  return layout.seal();
}

/** A part by its JSON section and the lengths of its two filters (bytes not in hand). */
export interface PartLayout {
  id: string;
  /** The part's JSON section: settings, and the deltas over its filters when it has any. */
  meta: JsonDeploymentSection;
  recordsLength: number;
  outboundLength: number;
}

/**
 * {@link encodeAssembledSnapshot} laid out before the parts' filters are read: the caller writes
 * each part's record filter at `recordsAt(id)` and its outbound filter at `outboundAt(id)` (central
 * streams them from R2, so the snapshot is the only copy in memory), then calls `seal()`.
 */
export function layoutAssembledSnapshot(header: Omit<RoutingSnapshot, 'deployments'>, parts: PartLayout[]) {
  const sorted = [...parts].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const order = sorted.map((p) => p.id);
  if (order.includes('__proto__')) throw new Error('deployment id "__proto__" is reserved');
  const specs: BlobSpec[] = [];
  for (const p of sorted)
    specs.push(
      { length: p.recordsLength, flags: tagMaskFlags(TAG_RECORD) },
      tagMaskFlags(TAG_EMAIL_ENABLED),
      tagMaskFlags(3, true),
      { length: p.outboundLength },
    );
  const deployments = Object.fromEntries(sorted.map((p) => [p.id, p.meta]));
  const layout = layoutEncoding(
    jsonSection(header, order, deployments),
    specs,
    sorted.some((p) => p.meta.deltas) ? FORMAT_WITH_DELTAS : FORMAT_VERSION,
  );
  const index = new Map(order.map((id, i) => [id, i * 4]));
  const slot = (id: string, k: 0 | 3) => {
    const i = index.get(id);
    if (i === undefined) throw new Error(`deployment ${id} is not in this snapshot`);
    return layout.at[i + k] as number;
  };
  return {
    out: layout.out,
    recordsAt: (id: string) => slot(id, 0),
    outboundAt: (id: string) => slot(id, 3),
    seal(): Uint8Array {
      // The record filter must be tagged (its own flags byte, before seal() overrides it).
      for (const id of order)
        if (((layout.out[slot(id, 0) + 3] as number) & 1) !== 1)
          throw new Error('a part needs a tagged record filter');
      return layout.seal();
    },
  };
}

function checksum(bytes: Uint8Array): [number, number] {
  const hex = keyedHashBytes(ZERO_KEY, bytes);
  return [Number.parseInt(hex.slice(0, 8), 16), Number.parseInt(hex.slice(8), 16)];
}

function fail(problem: string): never {
  throw new Error(`corrupt routing snapshot: ${problem}`);
}

function isStringArray(v: unknown, pattern?: RegExp): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string' && (!pattern || pattern.test(x)));
}

const HASH = /^[0-9a-f]{16}$/;

/** An object keyed by hashes, each value read by `read` (undefined: malformed). */
function hashMap<T>(
  value: unknown,
  what: string,
  malformed: string,
  read: (v: unknown) => T | undefined,
): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [hash, v] of Object.entries(value as Record<string, unknown>)) {
    if (!HASH.test(hash)) fail(`${what} key is not a hash`);
    const entry = read(v);
    if (entry === undefined) fail(malformed);
    out[hash] = entry;
  }
  return out;
}

/** Throws (corrupt routing snapshot) unless `d` is a well-formed JSON section of deployment `id`. */
export function checkJsonDeployment(id: string, d: JsonDeployment): void {
  if (validateTokenFormat(d.token)) fail(`deployment "${id}" token format invalid`);
  if (typeof d.maxMessageBytes !== 'number' || !(d.maxMessageBytes >= 0))
    fail(`deployment "${id}" size limit invalid`);
  if (!ATTACHMENT_POLICIES.includes(d.attachmentPolicy)) fail(`deployment "${id}" attachment policy unknown`);
  if (typeof d.smartMatch !== 'boolean') fail(`deployment "${id}" smartMatch missing`);
  if (
    d.retentionDays !== undefined &&
    !(Number.isInteger(d.retentionDays) && d.retentionDays >= 1 && d.retentionDays <= 36_500)
  )
    fail(`deployment "${id}" retentionDays invalid`);
  if (!isStringArray(d.suppressedAddresses, HASH) || !isStringArray(d.suppressedDomains, HASH)) {
    fail(`deployment "${id}" suppressions malformed`);
  }
  if (!isStringArray(d.threadIndexes, HASH)) fail(`deployment "${id}" thread indexes malformed`);
  if (
    !Array.isArray(d.smart) ||
    !d.smart.every((x) => x && HASH.test(x.subject) && isStringArray(x.recipients, HASH))
  ) {
    fail(`deployment "${id}" smart-match entries malformed`);
  }
}

/**
 * The header of a snapshot's (or a manifest's) JSON section, checked: everything but the
 * deployments' filters, with the deployment order and the per-deployment JSON left to the caller.
 */
export function readSnapshotHeader(parsed: unknown): Omit<RoutingSnapshot, 'deployments'> & {
  order: string[];
  deployments: object;
} {
  if (parsed === null || typeof parsed !== 'object') fail('JSON section is not an object');
  const {
    version,
    etag,
    region,
    builtAt,
    hashKey,
    rulesEnabled,
    egress,
    mailboxes,
    forwarding,
    relayTokens,
    order,
    deployments,
  } = parsed as Record<string, unknown>;
  if (typeof version !== 'number' || !Number.isFinite(version)) fail('version missing');
  if (typeof etag !== 'string') fail('etag missing');
  if (typeof region !== 'string') fail('region missing');
  if (typeof builtAt !== 'number') fail('builtAt missing');
  if (typeof hashKey !== 'string' || !isHashKey(hashKey)) fail('hashKey missing or malformed');
  if (typeof rulesEnabled !== 'boolean') fail('rulesEnabled missing');
  if (!EGRESS_POLICIES.includes(egress as EgressPolicy)) fail('egress policy unknown');
  if (mailboxes === null || typeof mailboxes !== 'object' || Array.isArray(mailboxes))
    fail('mailboxes missing');
  if (!isStringArray(order)) fail('deployment order missing');
  if (deployments === null || typeof deployments !== 'object') fail('deployments missing');

  const routes = hashMap(mailboxes, 'mailbox', 'mailbox route malformed', (route) => {
    const r = route as Partial<MailboxRoute> | null;
    if (
      !r ||
      typeof r.deployment !== 'string' ||
      typeof r.userId !== 'string' ||
      !FILTER_MODES.includes(r.filter as FilterMode)
    )
      return undefined;
    return { deployment: r.deployment, userId: r.userId, filter: r.filter as FilterMode };
  });

  if (
    forwarding !== undefined &&
    (forwarding === null || typeof forwarding !== 'object' || Array.isArray(forwarding))
  )
    fail('forwarding addresses malformed');
  const forwardingTargets = hashMap(
    forwarding ?? {},
    'forwarding',
    'forwarding target malformed',
    (target) => {
      const t = target as Partial<ForwardingTarget> | null;
      if (
        !t ||
        typeof t.deployment !== 'string' ||
        (t.expiresAt !== undefined && (typeof t.expiresAt !== 'number' || !Number.isFinite(t.expiresAt)))
      )
        return undefined;
      return { deployment: t.deployment, ...(t.expiresAt !== undefined ? { expiresAt: t.expiresAt } : {}) };
    },
  );

  const relayTargets: Record<string, RelayTokenTarget> = {};
  if (relayTokens !== undefined) {
    if (relayTokens === null || typeof relayTokens !== 'object' || Array.isArray(relayTokens))
      fail('relay tokens malformed');
    for (const [key, v] of Object.entries(relayTokens as Record<string, unknown>)) {
      const t = v as Partial<RelayTokenTarget> | null;
      if (!/^[0-9a-f]{64}$/.test(key) || !t || typeof t.deployment !== 'string' || typeof t.id !== 'string')
        fail('relay token malformed');
      relayTargets[key] = { deployment: t.deployment, id: t.id };
    }
  }

  return {
    version,
    etag,
    region,
    builtAt,
    hashKey: hashKey.toLowerCase(),
    rulesEnabled,
    egress: egress as EgressPolicy,
    mailboxes: routes,
    forwarding: forwardingTargets,
    ...(Object.keys(relayTargets).length ? { relayTokens: relayTargets } : {}),
    order,
    deployments,
  };
}

/** Decodes a snapshot. Throws an Error naming the problem on a corrupt or truncated payload. */
export function decodeSnapshot(bytes: Uint8Array): RoutingSnapshot {
  if (!(bytes instanceof Uint8Array)) fail('payload is not bytes');
  if (bytes.length < 16) fail(`payload is truncated (${bytes.length} bytes)`);
  if (bytes[0] !== MAGIC[0] || bytes[1] !== MAGIC[1] || bytes[2] !== MAGIC[2]) fail('bad magic');
  const format = bytes[3];
  if (format !== FORMAT_VERSION && format !== FORMAT_WITH_DELTAS && format !== 1)
    fail(`unsupported format version ${bytes[3]}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.length - 8;
  const [hi, lo] = checksum(bytes.subarray(0, end));
  if (view.getUint32(end, true) !== hi || view.getUint32(end + 4, true) !== lo) {
    fail('checksum mismatch (truncated or altered)');
  }
  const jsonLength = view.getUint32(4, true);
  if (8 + jsonLength > end) fail('JSON section overruns the payload');
  let parsed: unknown;
  try {
    parsed = JSON.parse(
      new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes.subarray(8, 8 + jsonLength)),
    );
  } catch (e) {
    fail(`JSON section unreadable (${e instanceof Error ? e.message : String(e)})`);
  }
  const header = readSnapshotHeader(parsed);
  const { order, deployments } = header;
  let o = 8 + jsonLength;
  const readBlob = (what: string, shareWith?: Uint8Array): Uint8Array => {
    if (o + 4 > end) fail(`${what} filter is missing`);
    const length = view.getUint32(o, true);
    if (length === SHARED) {
      if (!shareWith || o + 5 > end) fail(`${what} filter reference is invalid`);
      const copy = shareWith.slice();
      copy[3] = bytes[o + 4] as number;
      o += 5;
      return copy;
    }
    if (o + 4 + length > end) fail(`${what} filter overruns the payload`);
    // A view, not a copy: the filters share the payload's buffer (10 M records are ~14 MB).
    const blob = bytes.subarray(o + 4, o + 4 + length);
    o += 4 + length;
    return blob;
  };

  const result: Record<string, DeploymentSnapshot> = {};
  for (const id of order) {
    if (id === '__proto__') fail('deployment id "__proto__" is reserved');
    const d = Object.hasOwn(deployments, id)
      ? (deployments as Record<string, JsonDeployment | undefined>)[id]
      : undefined;
    if (!d || typeof d !== 'object') fail(`deployment "${id}" missing`);
    checkJsonDeployment(id, d);
    const records = readBlob(`deployment "${id}" records`);
    const emailEnabled = readBlob(`deployment "${id}" emailEnabled`, records);
    const emailEnabledRecipients =
      format === 1 ? emailEnabled : readBlob(`deployment "${id}" emailEnabledRecipients`, records);
    const outbound = readBlob(`deployment "${id}" outbound`);
    for (const [what, f] of [
      ['records', records],
      ['emailEnabled', emailEnabled],
      ['emailEnabledRecipients', emailEnabledRecipients],
      ['outbound', outbound],
    ] as const) {
      const problem = validateMembershipFilter(f);
      if (problem) fail(`deployment "${id}" ${what}: ${problem}`);
    }
    const json = (d as JsonDeploymentSection).deltas;
    if (json !== undefined && format !== FORMAT_WITH_DELTAS)
      fail(`deployment "${id}" has deltas in format ${format}`);
    const deltas = readJsonDeltas(id, json, shardsOf(records).bits);
    if (deltas.records.size) {
      const source = heldDeltaSource(shardsOf(records).bits, deltas.records);
      for (const f of [records, emailEnabled, emailEnabledRecipients]) withFilterDeltas(f, source);
    }
    if (deltas.outbound) withFilterDeltas(outbound, heldDeltaSource(0, new Map([[0, deltas.outbound]])));
    result[id] = { ...jsonDeploymentOf(d), records, emailEnabled, emailEnabledRecipients, outbound };
  }
  if (o !== end) fail('trailing bytes after the filters');
  const { order: _order, deployments: _deployments, ...rest } = header;
  return { ...rest, deployments: result };
}

/**
 * The deployment a forwarding address (the envelope recipient) binds a message to, or undefined
 * when the address is not one of the region's forwarding addresses (or has expired): such mail is
 * rejected as `unknown-recipient`.
 */
export function forwardingDeployment(
  snapshot: RoutingSnapshot,
  envelopeTo: string | undefined,
  now: number,
): string | undefined {
  if (!envelopeTo) return undefined;
  const address = normaliseAddress(envelopeTo);
  if (address === '') return undefined;
  const forwarding = snapshot.forwarding ?? {};
  const hash = keyedHash(snapshot.hashKey, address);
  const target = Object.hasOwn(forwarding, hash) ? forwarding[hash] : undefined;
  if (!target) return undefined;
  if (target.expiresAt !== undefined && now >= target.expiresAt) return undefined;
  return target.deployment;
}
