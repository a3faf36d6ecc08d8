/**
 * CSV (RFC 4180) that is safe to open in a spreadsheet: a text cell that starts with a
 * character a spreadsheet reads as a formula (= + - @, tab, carriage return) is prefixed with a
 * single quote (OWASP's "CSV injection" advice), so `=HYPERLINK(...)` shows as text. Numbers are
 * written as they are (a negative number is not a formula). Lines end with CRLF.
 */
export type CsvCell = string | number | boolean | null | undefined;

const FORMULA_START = /^[=+\-@\t\r]/;

export function csvCell(v: CsvCell): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  let s = v;
  if (FORMULA_START.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(columns: readonly string[], rows: ReadonlyArray<Record<string, CsvCell>>): string {
  const lines = [columns.map(csvCell).join(',')];
  for (const row of rows) lines.push(columns.map((c) => csvCell(row[c])).join(','));
  return lines.join('\r\n') + '\r\n';
}
