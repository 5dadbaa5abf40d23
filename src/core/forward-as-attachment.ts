// Forward-as-attachment detection: a multipart/mixed message whose message/rfc822 part is the
// message its sender forwarded (Outlook "Forward as Attachment", Exchange inbox rules). Then the
// wrapped message's headers are the ones classified (design §4).
import { traceAddresses } from './forwarding.js';
import {
  addressList,
  decodeEncodedWords,
  type HeaderBlock,
  parseAddressList,
  type parseContentType,
} from './headers.js';
import { findWrappedMessage, nextDelimiter } from './mime-boundary.js';
import { normaliseSubject } from './subject.js';

const encoder = new TextEncoder();

/**
 * Whether a multipart/mixed message with a message/rfc822 part is a forward-as-attachment by its
 * sender (Outlook "Forward as Attachment", Exchange inbox rules): the sender received the wrapped
 * message, or the outer subject is the wrapped one's (give or take `FW:`), or there is none.
 * A message that merely carries an .eml from someone else keeps its own headers.
 */
function isForwardOf(outer: HeaderBlock, inner: HeaderBlock): boolean {
  const outerSubject = normaliseSubject(decodeEncodedWords(outer.get('subject') ?? ''));
  const innerSubject = normaliseSubject(decodeEncodedWords(inner.get('subject') ?? ''));
  if (outerSubject === '' || outerSubject === innerSubject) return true;
  const sender = parseAddressList(outer.get('from') ?? '')[0]?.address;
  if (!sender) return false;
  const received = [
    ...addressList(inner, 'to'),
    ...addressList(inner, 'cc'),
    ...addressList(inner, 'bcc'),
  ].map((a) => a.address);
  for (const name of ['delivered-to', 'x-original-to'])
    for (const v of inner.getAll(name)) received.push(...traceAddresses(v));
  return received.includes(sender);
}

/**
 * The header block to classify: the wrapped message's for a forward-as-attachment, else the outer
 * one; with the MIME problems met on the way (a missing or absent boundary, an oversized part).
 */
export function unwrapForwardAsAttachment(
  raw: Uint8Array,
  outer: HeaderBlock,
  outerType: ReturnType<typeof parseContentType>,
  maxHeaderBytes: number,
): { source: HeaderBlock; forwardedAsAttachment: boolean; problems: string[] } {
  const problems: string[] = [];
  if (!outerType.type.startsWith('multipart/'))
    return { source: outer, forwardedAsAttachment: false, problems };
  const boundary = outerType.params.boundary;
  if (!boundary) {
    problems.push('broken MIME boundary: multipart message without a boundary parameter');
  } else if (outerType.type === 'multipart/mixed') {
    const wrapped = findWrappedMessage(raw, outer.bodyOffset, boundary, maxHeaderBytes);
    if (!wrapped.boundaryFound) problems.push('broken MIME boundary: the boundary never occurs in the body');
    if (wrapped.problem) problems.push(wrapped.problem);
    if (wrapped.block && wrapped.block.fields.length > 0 && isForwardOf(outer, wrapped.block))
      return { source: wrapped.block, forwardedAsAttachment: true, problems };
  } else if (!nextDelimiter(raw, outer.bodyOffset, encoder.encode(`--${boundary}`))) {
    problems.push('broken MIME boundary: the boundary never occurs in the body');
  }
  return { source: outer, forwardedAsAttachment: false, problems };
}
