/**
 * What a voucher looks like on paper and in a spreadsheet: an HTML sheet (an A4 grid of cards,
 * or 58 mm thermal-receipt slips), a PDF of either (pdfkit), and CSV. Each card carries a QR
 * code (qrcode) of the portal URL with the voucher's one-time login token; the code itself is
 * printed, never put in a URL.
 */
import PDFDocument from 'pdfkit';
import QRCode from 'qrcode';

export interface PrintCard {
  code: string;
  /** The portal URL with the one-time token (what the QR code opens). */
  loginUrl: string;
  planName: string;
  /** Price as the tenant shows it, e.g. "KES 50.00". */
  price: string;
  /** "1 day", "6 GB" ... what the buyer gets. */
  allowance: string;
  expiresAt: string | null;
  note: string | null;
}

export interface PrintSheet {
  tenantName: string;
  layout: 'a4' | 'thermal';
  cards: PrintCard[];
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);

/** Codes printed in groups of 4 or 5 so they are easier to read out and type. */
export function groupCode(code: string): string {
  const size = code.length % 4 === 0 ? 4 : 5;
  return code.match(new RegExp(`.{1,${size}}`, 'g'))!.join(' ');
}

/** An SVG QR code (medium error correction: survives a smudged receipt). */
async function qrSvg(url: string): Promise<string> {
  return QRCode.toString(url, { type: 'svg', errorCorrectionLevel: 'M', margin: 1 });
}

const A4_CSS = `@page{size:A4;margin:10mm}body{font-family:sans-serif;margin:0}
.grid{display:grid;grid-template-columns:repeat(3,1fr);gap:4mm}
.card{border:1px dashed #555;padding:3mm;break-inside:avoid;display:flex;gap:2mm;align-items:center;height:40mm;box-sizing:border-box}
.qr{width:28mm;height:28mm;flex:none}.qr svg{width:100%;height:100%}
.t{font-size:9pt}.code{font:bold 12pt monospace;letter-spacing:.5pt;margin:1mm 0}.s{font-size:7pt;color:#333}`;
const THERMAL_CSS = `@page{size:58mm auto;margin:2mm}body{font-family:sans-serif;margin:0;width:54mm}
.card{border-bottom:1px dashed #000;padding:3mm 0;text-align:center;break-after:page}
.qr{width:36mm;height:36mm;margin:0 auto}.qr svg{width:100%;height:100%}
.t{font-size:10pt}.code{font:bold 13pt monospace;margin:1mm 0}.s{font-size:8pt}`;

export async function renderHtml(sheet: PrintSheet): Promise<string> {
  const cards: string[] = [];
  for (const c of sheet.cards) {
    cards.push(
      `<div class="card"><div class="qr">${await qrSvg(c.loginUrl)}</div><div>` +
        `<div class="t">${esc(sheet.tenantName)}: ${esc(c.planName)}</div>` +
        `<div class="code">${esc(groupCode(c.code))}</div>` +
        `<div class="s">${esc(c.allowance)} &middot; ${esc(c.price)}</div>` +
        (c.expiresAt ? `<div class="s">Use by ${esc(c.expiresAt)}</div>` : '') +
        (c.note ? `<div class="s">${esc(c.note)}</div>` : '') +
        `<div class="s">Scan, or join the WiFi and type the code</div></div></div>`,
    );
  }
  const css = sheet.layout === 'a4' ? A4_CSS : THERMAL_CSS;
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(sheet.tenantName)} vouchers</title>` +
    `<style>${css}</style></head><body><div class="${sheet.layout === 'a4' ? 'grid' : 'roll'}">${cards.join('')}</div></body></html>`
  );
}

const MM = 72 / 25.4;

/**
 * A QR code drawn as vector rectangles (one per run of dark modules in a row) at (x, y), `size`
 * points wide with a one-module quiet zone: no PNG to encode and decode per voucher.
 */
function drawQr(doc: PDFKit.PDFDocument, url: string, x: number, y: number, size: number): void {
  const qr = QRCode.create(url, { errorCorrectionLevel: 'M' });
  const n = qr.modules.size;
  const cell = size / (n + 2);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n;) {
      if (!qr.modules.get(r, c)) {
        c++;
        continue;
      }
      let end = c;
      while (end < n && qr.modules.get(r, end)) end++;
      doc.rect(x + (c + 1) * cell, y + (r + 1) * cell, (end - c) * cell, cell);
      c = end;
    }
  }
  doc.fill('#000000');
}

/** The same cards as a PDF: A4 pages of 3 x 7 cards, or one 58 mm x 80 mm page per voucher. */
export async function renderPdf(sheet: PrintSheet): Promise<Buffer> {
  const thermal = sheet.layout === 'thermal';
  const doc = new PDFDocument({
    size: thermal ? [58 * MM, 80 * MM] : 'A4',
    margin: thermal ? 2 * MM : 10 * MM,
    autoFirstPage: false,
    info: { Title: `${sheet.tenantName} vouchers`, Producer: 'Lango' },
  });
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => {
    doc.on('end', () => resolve());
    doc.on('error', reject);
  });
  const cols = 3;
  const rows = 7;
  const cardW = (210 - 20 - (cols - 1) * 4) / cols;
  const cardH = (297 - 20 - (rows - 1) * 3) / rows;
  for (let i = 0; i < sheet.cards.length; i++) {
    const c = sheet.cards[i]!;
    if (thermal) {
      doc.addPage();
      const w = 54 * MM;
      drawQr(doc, c.loginUrl, (2 + 9) * MM, 3 * MM, 36 * MM);
      let y = 41 * MM;
      doc
        .font('Helvetica')
        .fontSize(9)
        .text(`${sheet.tenantName}: ${c.planName}`, 2 * MM, y, { width: w, align: 'center' });
      y += 6 * MM;
      doc
        .font('Courier-Bold')
        .fontSize(13)
        .text(groupCode(c.code), 2 * MM, y, { width: w, align: 'center' });
      y += 7 * MM;
      doc
        .font('Helvetica')
        .fontSize(8)
        .text(`${c.allowance} - ${c.price}`, 2 * MM, y, { width: w, align: 'center' });
      y += 5 * MM;
      if (c.expiresAt) doc.text(`Use by ${c.expiresAt}`, 2 * MM, y, { width: w, align: 'center' });
      y += 5 * MM;
      if (c.note) doc.text(c.note, 2 * MM, y, { width: w, align: 'center', height: 10 * MM, ellipsis: true });
      continue;
    }
    const slot = i % (cols * rows);
    if (slot === 0) doc.addPage();
    const x = (10 + (slot % cols) * (cardW + 4)) * MM;
    const y = (10 + Math.floor(slot / cols) * (cardH + 3)) * MM;
    doc
      .save()
      .dash(2, { space: 2 })
      .rect(x, y, cardW * MM, cardH * MM)
      .stroke('#555555')
      .undash()
      .restore();
    drawQr(doc, c.loginUrl, x + 2 * MM, y + 2 * MM, (cardH - 4) * MM);
    const tx = x + (cardH + 0) * MM;
    const tw = (cardW - cardH - 2) * MM;
    doc
      .fillColor('#000000')
      .font('Helvetica')
      .fontSize(7)
      .text(`${sheet.tenantName}: ${c.planName}`, tx, y + 3 * MM, { width: tw, height: 8 * MM, ellipsis: true });
    doc
      .font('Courier-Bold')
      .fontSize(9)
      .text(groupCode(c.code), tx, y + 12 * MM, { width: tw });
    doc
      .font('Helvetica')
      .fontSize(6)
      .text(`${c.allowance} - ${c.price}`, tx, y + 20 * MM, { width: tw, height: 6 * MM, ellipsis: true });
    if (c.expiresAt) doc.text(`Use by ${c.expiresAt}`, tx, y + 25 * MM, { width: tw, height: 4 * MM, ellipsis: true });
    if (c.note) doc.text(c.note, tx, y + 29 * MM, { width: tw, height: 4 * MM, ellipsis: true });
  }
  if (sheet.cards.length === 0) doc.addPage();
  doc.end();
  await done;
  return Buffer.concat(chunks);
}

/**
 * A CSV cell that a spreadsheet shows as text: a cell starting with = + - @, a tab or a carriage
 * return would be run as a formula (CSV injection), so it gets a leading apostrophe; every cell
 * is quoted.
 */
export function csvCell(v: string | number | null): string {
  let s = v === null ? '' : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return `"${s.replace(/"/g, '""')}"`;
}

export function toCsv(header: string[], rows: Array<Array<string | number | null>>): string {
  return [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
}
