/**
 * An M-Pesa organisation statement as the M-Pesa org portal exports it (CSV): a header row
 * naming at least "Receipt No.", "Completion Time" and "Paid In" (optionally "Transaction
 * Status"), preamble lines before it ignored. Times are Nairobi time (UTC+3); amounts are
 * major units with optional thousands separators. Only money paid in is compared.
 */
import { amountToMinor, nairobiTimestampToDate } from '../../mpesa/callbacks';

export interface StatementLine {
  receipt: string;
  /** Minor units. */
  amount: number;
  completedAt: Date | null;
}

export interface Statement {
  lines: StatementLine[];
  unreadable: Array<{ line: number; reason: string }>;
  /** First and last completion time (the period the statement covers). */
  from: Date | null;
  to: Date | null;
}

const MAX_LINES = 100_000;

/** RFC 4180 fields of one record; quotes may hold commas and doubled quotes. */
export function csvRecords(text: string): string[][] {
  const out: string[][] = [];
  let rec: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      rec.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      rec.push(field);
      out.push(rec);
      rec = [];
      field = '';
      if (out.length > MAX_LINES) break;
    } else field += c;
  }
  if (field !== '' || rec.length) {
    rec.push(field);
    out.push(rec);
  }
  return out;
}

/** "2026-12-02 14:05:09", "02-12-2026 14:05:09", "02/12/2026 14:05" (Nairobi) -> instant. */
export function statementTime(s: string): Date | null {
  const t = s.trim();
  let m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?$/.exec(t);
  if (m) return nairobiTimestampToDate(`${m[1]}${m[2]}${m[3]}${m[4]}${m[5]}${m[6] ?? '00'}`) ?? null;
  m = /^(\d{2})[-/](\d{2})[-/](\d{4})[ T](\d{2}):(\d{2})(?::(\d{2}))?$/.exec(t);
  if (m) return nairobiTimestampToDate(`${m[3]}${m[2]}${m[1]}${m[4]}${m[5]}${m[6] ?? '00'}`) ?? null;
  return null;
}

const norm = (h: string) =>
  h
    .trim()
    .toLowerCase()
    .replace(/[^a-z]/g, '');

export function parseStatement(csv: string): Statement {
  const records = csvRecords(csv.replace(/^\uFEFF/, ''));
  const headerAt = records.findIndex(
    (r) => r.some((h) => norm(h) === 'receiptno') && r.some((h) => norm(h) === 'paidin'),
  );
  const unreadable: Statement['unreadable'] = [];
  if (headerAt < 0)
    return {
      lines: [],
      unreadable: [{ line: 1, reason: 'no header row with "Receipt No." and "Paid In"' }],
      from: null,
      to: null,
    };
  const header = records[headerAt]!.map(norm);
  const col = (name: string) => header.indexOf(name);
  const [iReceipt, iTime, iPaid, iStatus] = [
    col('receiptno'),
    col('completiontime'),
    col('paidin'),
    col('transactionstatus'),
  ];
  const lines: StatementLine[] = [];
  const seen = new Set<string>();
  let from: Date | null = null;
  let to: Date | null = null;
  records.slice(headerAt + 1).forEach((r, k) => {
    const lineNo = headerAt + k + 2;
    if (r.every((f) => f.trim() === '')) return;
    const receipt = (r[iReceipt] ?? '').trim().toUpperCase();
    const paid = (r[iPaid] ?? '').trim().replace(/,/g, '');
    if (iStatus >= 0 && (r[iStatus] ?? '').trim() && !/^completed$/i.test((r[iStatus] ?? '').trim())) return;
    if (paid === '' || /^0*(\.0*)?$/.test(paid)) return; // money out, or a zero line
    if (!/^[A-Z0-9]{6,20}$/.test(receipt)) {
      unreadable.push({ line: lineNo, reason: 'no readable receipt number' });
      return;
    }
    const amount = amountToMinor(paid);
    if (amount === undefined) {
      unreadable.push({ line: lineNo, reason: `"Paid In" is not an amount` });
      return;
    }
    if (seen.has(receipt)) {
      unreadable.push({ line: lineNo, reason: `receipt ${receipt} appears twice` });
      return;
    }
    seen.add(receipt);
    const completedAt = iTime >= 0 ? statementTime(r[iTime] ?? '') : null;
    if (completedAt) {
      if (!from || completedAt < from) from = completedAt;
      if (!to || completedAt > to) to = completedAt;
    }
    lines.push({ receipt, amount, completedAt });
  });
  return { lines, unreadable, from, to };
}
