// RFC 5322 §3.3 date-time, tolerating the obsolete forms of §4.3 (two-digit years, named zones).

const MONTHS: Record<string, number> = {
  jan: 0,
  feb: 1,
  mar: 2,
  apr: 3,
  may: 4,
  jun: 5,
  jul: 6,
  aug: 7,
  sep: 8,
  oct: 9,
  nov: 10,
  dec: 11,
};
// RFC 5322 §4.3 obsolete zones.
const ZONES: Record<string, number> = {
  ut: 0,
  utc: 0,
  gmt: 0,
  z: 0,
  est: -300,
  edt: -240,
  cst: -360,
  cdt: -300,
  mst: -420,
  mdt: -360,
  pst: -480,
  pdt: -420,
};

/** Parses an RFC 5322 date-time (tolerating obsolete forms) to epoch milliseconds. */
export function parseMailDate(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const m =
    /(\d{1,2})\s+([a-z]{3})[a-z]*\.?\s+(\d{2,4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*([+-]\d{2}:?\d{2}|[a-z]{1,5})?/i.exec(
      value,
    );
  if (!m) return undefined;
  const day = Number(m[1]);
  const month = MONTHS[(m[2] as string).toLowerCase()];
  let year = Number(m[3]);
  if ((m[3] as string).length <= 2) year += year < 50 ? 2000 : 1900;
  else if ((m[3] as string).length === 3) year += 1900;
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  if (month === undefined || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
  let offset = 0;
  const zone = m[7];
  if (zone) {
    const z = /^([+-])(\d{2}):?(\d{2})$/.exec(zone);
    if (z) offset = (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3]));
    else offset = ZONES[zone.toLowerCase()] ?? 0;
  }
  const t = Date.UTC(year, month, day, hour, minute, Math.min(second, 59)) - offset * 60_000;
  return Number.isFinite(t) ? t : undefined;
}
