// The loop fingerprint of a message: cheap, from the header facts and a sparse body sample.
import { keyedHashBytes } from './keyed-hash.js';

const ZERO_KEY = '00000000000000000000000000000000';
const SAMPLE_EDGE = 4096;
const SAMPLE_STRIDE = 512;
const encoder = new TextEncoder();

/**
 * Fingerprint over from + subject + body size + a sample of the body bytes (first and last 4 KiB,
 * every 512th byte). Trace headers are left out so that a message looping through servers keeps
 * its fingerprint while it collects Received lines.
 */
export function fingerprintOf(from: string, subject: string, raw: Uint8Array, bodyOffset: number): string {
  const bodyLength = raw.length - bodyOffset;
  const head = encoder.encode(`${from}\n${subject}\n${bodyLength}\n`);
  const firstEnd = Math.min(raw.length, bodyOffset + SAMPLE_EDGE);
  const lastStart = Math.max(firstEnd, raw.length - SAMPLE_EDGE);
  const strided = Math.ceil(bodyLength / SAMPLE_STRIDE);
  const sample = new Uint8Array(head.length + (firstEnd - bodyOffset) + (raw.length - lastStart) + strided);
  let o = 0;
  sample.set(head, o);
  o += head.length;
  sample.set(raw.subarray(bodyOffset, firstEnd), o);
  o += firstEnd - bodyOffset;
  sample.set(raw.subarray(lastStart), o);
  o += raw.length - lastStart;
  for (let i = bodyOffset; i < raw.length; i += SAMPLE_STRIDE) sample[o++] = raw[i] as number;
  return keyedHashBytes(ZERO_KEY, sample.subarray(0, o));
}
