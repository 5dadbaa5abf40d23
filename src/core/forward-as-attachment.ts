// Forward-as-attachment detection (design §2, step 2): a multipart/mixed message from a forwarding
// mailbox that carries message/rfc822 parts forwards those messages (Outlook "Forward as
// Attachment", several at once; Exchange inbox rules). Each wrapped message is then classified on
// its own headers; a message from anyone else that carries an .eml keeps its own.
import { type HeaderBlock, parseAddressList, type parseContentType } from './headers.js';
import { findWrappedMessages, nextDelimiter, type WrappedMessage } from './mime-boundary.js';

const encoder = new TextEncoder();

/**
 * The wrapped messages of a forward-as-attachment (none for any other message), with the MIME
 * problems met on the way (a missing or absent boundary, an oversized part header block).
 */
export function forwardedMessages(
  raw: Uint8Array,
  outer: HeaderBlock,
  outerType: ReturnType<typeof parseContentType>,
  maxHeaderBytes: number,
  isForwardingMailbox: ((address: string) => boolean) | undefined,
): { wrapped: WrappedMessage[]; problems: string[] } {
  const problems: string[] = [];
  let wrapped: WrappedMessage[] = [];
  if (outerType.type.startsWith('multipart/')) {
    const boundary = outerType.params.boundary;
    if (!boundary) {
      problems.push('broken MIME boundary: multipart message without a boundary parameter');
    } else if (outerType.type === 'multipart/mixed') {
      const found = findWrappedMessages(raw, outer.bodyOffset, boundary, maxHeaderBytes);
      if (!found.boundaryFound) problems.push('broken MIME boundary: the boundary never occurs in the body');
      if (found.problem) problems.push(found.problem);
      const forwarder = parseAddressList(outer.get('from') ?? '')[0]?.address;
      if (found.messages.length > 0 && forwarder && isForwardingMailbox?.(forwarder))
        wrapped = found.messages;
    } else if (!nextDelimiter(raw, outer.bodyOffset, encoder.encode(`--${boundary}`))) {
      problems.push('broken MIME boundary: the boundary never occurs in the body');
    }
  }
  return { wrapped, problems };
}
