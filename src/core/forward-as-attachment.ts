// Forward-as-attachment detection (design §2, step 2): a multipart/mixed message from a forwarding
// mailbox that carries message/rfc822 parts forwards those messages (Outlook "Forward as
// Attachment", several at once; Exchange inbox rules). Each wrapped message is then classified on
// its own headers; a message from anyone else that carries an .eml keeps its own.

import { TRACE_HEADERS } from './forwarding.js';
import {
  type HeaderBlock,
  MAX_MESSAGE_HEADER_BYTES,
  parseAddressList,
  type parseContentType,
} from './headers.js';
import { boundaryProblem, findWrappedMessages, nextDelimiter, type WrappedMessage } from './mime-boundary.js';

const encoder = new TextEncoder();
/** The outer fields read again with each wrapped message (forwardingCandidates). */
const REREAD_FIELDS = new Set(['from', ...TRACE_HEADERS.map(([name]) => name)]);

/** Bytes of the outer block's fields that each wrapped message reads again. */
function rereadBytes(outer: HeaderBlock): number {
  let bytes = 0;
  for (const f of outer.fields) if (REREAD_FIELDS.has(f.name)) bytes += f.name.length + f.value.length;
  return bytes;
}

/**
 * The wrapped messages of a forward-as-attachment (none for any other message), with the MIME
 * problems met on the way (a missing or absent boundary, an oversized part header block), or why
 * the message is not readable MIME at all (`malformed`: a boundary over RFC 2046's 70 characters,
 * the message's header budget spent). `headerBudget` is what is left of the message's one header
 * budget after its own header block.
 */
export function forwardedMessages(
  raw: Uint8Array,
  outer: HeaderBlock,
  outerType: ReturnType<typeof parseContentType>,
  maxHeaderBytes: number,
  headerBudget: number,
  isForwardingMailbox: ((address: string) => boolean) | undefined,
): { wrapped: WrappedMessage[]; problems: string[]; malformed?: string } {
  const problems: string[] = [];
  const malformed = boundaryProblem(outerType);
  if (malformed) return { wrapped: [], problems, malformed };
  if (!outerType.type.startsWith('multipart/')) return { wrapped: [], problems };
  const boundary = outerType.params.boundary;
  if (!boundary) {
    problems.push('broken MIME boundary: multipart message without a boundary parameter');
    return { wrapped: [], problems };
  }
  const forwarder = parseAddressList(outer.get('from') ?? '')[0]?.address;
  // Only a forwarding mailbox's multipart/mixed message has wrapped messages worth reading.
  const forward =
    outerType.type === 'multipart/mixed' && forwarder !== undefined && isForwardingMailbox?.(forwarder);
  if (!forward) {
    if (!nextDelimiter(raw, outer.bodyOffset, encoder.encode(`--${boundary}`)))
      problems.push('broken MIME boundary: the boundary never occurs in the body');
    return { wrapped: [], problems };
  }
  const found = findWrappedMessages(raw, outer.bodyOffset, boundary, maxHeaderBytes, headerBudget);
  if (!found.boundaryFound) problems.push('broken MIME boundary: the boundary never occurs in the body');
  if (found.problem) problems.push(found.problem);
  // Each wrapped message is read with the outer block's From and trace headers once more.
  const reread = found.messages.length * rereadBytes(outer);
  if (found.overBudget || found.headerBytesRead + reread > headerBudget)
    return {
      wrapped: [],
      problems,
      malformed: `the header blocks of the message and its wrapped messages exceed ${MAX_MESSAGE_HEADER_BYTES} bytes`,
    };
  return { wrapped: found.messages, problems };
}
