// What a header-first read of a message yields (`readMessageFacts`): the classifier's input.
import type { MailAddress } from './types.js';

export type ForwardingVia =
  | 'forward-as-attachment'
  | 'x-forwarded-to'
  | 'x-forwarded-for'
  | 'delivered-to'
  | 'x-original-to'
  | 'resent-to'
  | 'resent-from'
  | 'x-ms-exchange-inbox-rules-loop'
  | 'envelope'
  /** The envelope sender (MAIL FROM) of the copy the edge received: evidence only, never a candidate. */
  | 'envelope-from';

export interface ForwardingCandidate {
  address: string;
  via: ForwardingVia;
}

export interface MessageFacts {
  sizeBytes: number;
  /** Normalised Message-ID (no angle brackets, lower case). */
  messageId?: string;
  /** Decoded subject (of the wrapped message for a forward-as-attachment). */
  subject: string;
  from?: MailAddress;
  sender?: MailAddress;
  replyTo: MailAddress[];
  to: MailAddress[];
  cc: MailAddress[];
  bcc: MailAddress[];
  /** Date header as epoch milliseconds. */
  date?: number;
  inReplyTo: string[];
  references: string[];
  threadIndex?: string;
  /** Lower-case media type of the (original) message. */
  contentType: string;
  /** `report-type` parameter of a multipart/report, lower case. */
  reportType?: string;
  /** Auto-Submitted keyword (RFC 3834 §5), lower case. */
  autoSubmitted?: string;
  autoResponseSuppress?: string;
  /** Precedence keyword, lower case. */
  precedence?: string;
  listId?: string;
  listUnsubscribe?: string;
  /** X-Loop values (outer and wrapped message), lower case. */
  xLoop: string[];
  /** Return-Path address; `''` for the null reverse-path `<>`. */
  returnPath?: string;
  /** X-Autoreply / X-Autorespond / X-Auto-Response header value, if present. */
  xAutoreply?: string;
  /** X-Failed-Recipients (Exim and others put it on bounces). */
  xFailedRecipients?: string;
  forwarding: ForwardingCandidate[];
  /**
   * Who forwarded the copy, as the customer's own mail servers wrote it (docs/decisions.md, "Who
   * forwarded"), strongest first: the topmost `Delivered-To` and the topmost `X-Original-To` of the
   * outer message, then the envelope sender. The classifier takes the first that names a mailbox
   * the message's headers also name as the forwarder; it never routes on its own.
   */
  deliveredBy: ForwardingCandidate[];
  forwardedAsAttachment: boolean;
  /**
   * For a forward-as-attachment: which message/rfc822 part of the outer message this is (0-based
   * among the message parts), so the full parse can pick the same one.
   */
  wrappedIndex?: number;
  /** For a forward-as-attachment: the wrapped message's byte range `[start, end)` in the raw message. */
  wrappedRange?: [number, number];
  envelope: { from?: string; to?: string };
  /** Cheap content fingerprint: equal for identical messages, different when the content differs. */
  fingerprint: string;
  /** Non-fatal findings. */
  problems: string[];
  /** Set, with a human reason, only when the headers cannot be used. */
  malformed?: string;
  /** Size of the outer header block in bytes. */
  headerBytes: number;
  /** Size of the outer body in bytes. */
  bodyBytes: number;
}
