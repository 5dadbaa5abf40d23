// Subject normalisation for smart matching: the reply/forward prefixes mail clients add in their
// users' languages, leading `[tag]`s added by gateways and lists, and whitespace are removed.

import { removeTrackingTokens } from './tracking-token.js';
import type { TokenFormat } from './types.js';

// Prefixes as written by Outlook, Gmail, Apple Mail, Thunderbird and friends in their localisations.
const PREFIXES = [
  're',
  'fw',
  'fwd',
  'aw', // de: Antwort
  'wg', // de: Weitergeleitet
  'antw',
  'antwort',
  'sv', // sv/da/no: Svar
  'svar',
  'vs', // fi: Vastaus, da/no: Videresendt
  'vl', // fi: Välitetty
  'vb', // nl: Via
  'doorst', // nl: Doorsturen
  'tr', // fr: Transféré
  'trans',
  'réf',
  'ref',
  'rv', // es: Reenviado
  'enc', // pt: Encaminhado
  'res', // pt: Resposta
  'r', // it: Risposta
  'rif', // it: Riferimento
  'i', // it: Inoltrato
  'odp', // pl: Odpowiedź
  'pd', // pl: Przekazanie dalej
  'fs', // is: Framsent
  'atb', // lv: Atbilde
  'ats', // lt: Atsakymas
  'pers', // lt: Persiųsta
  'ynt', // tr: Yanıt
  'ilt', // tr: İlet
  'yml',
  'vá', // hu: Válasz
  'továbbítás',
  'odg', // hr: Odgovor
  'proslijeđeno',
  'sv',
  'отв',
  'ответ',
  'пересл',
  'переслано',
  'fwd',
  'απ', // el: Απάντηση
  'σχετ', // el: Σχετικά
  'πρθ', // el: Προώθηση
  'השב',
  'הועבר',
  'رد',
  'توجيه',
  '回复',
  '回覆',
  '答复',
  '答覆',
  '转发',
  '轉寄',
  '轉發',
  '返信',
  '転送',
  '회신',
  '전달',
];

const escaped = [...new Set(PREFIXES)]
  .sort((a, b) => b.length - a.length)
  .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
  .join('|');

// `Re:`, `RE[2]:`, `Re(3):`, `Re^2:`, `AW :`, full-width colon (folded by NFKC), and `[tag]`s.
const LEADING = new RegExp(
  `^(?:\\s*(?:(?:${escaped})\\s*(?:\\[\\d+\\]|\\(\\d+\\)|\\^\\d+)?\\s*:|\\[[^\\]]*\\]))+`,
  'u',
);
const TRAILING = /\s*\((?:fwd|fw)\)\s*$/u;

/** Normalises a subject for comparison: prefixes and leading tags stripped, whitespace collapsed, lower case. */
export function normaliseSubject(subject: string): string {
  if (typeof subject !== 'string') return '';
  let s = subject.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ');
  s = s.replace(LEADING, '');
  s = s.replace(TRAILING, '');
  return s.trim();
}

/**
 * The subject smart matching hashes (design §2): the deployment's tracking tokens removed, then
 * normalised. The outbound subject is registered with its token; a reply often loses it, and
 * without this the two would never hash the same.
 */
export function smartMatchSubject(format: TokenFormat, subject: string): string {
  return normaliseSubject(removeTrackingTokens(format, subject));
}
