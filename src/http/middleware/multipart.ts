/**
 * multipart/form-data for the dashboard's one upload (the portal logo), read whole up to a
 * limit and parsed strictly: at most `maxParts` parts, each with a Content-Disposition form-data
 * name; text parts become strings in req.body (so the CSRF check reads `_csrf` as from any form),
 * file parts become UploadedFile. Anything malformed is a 400. Other content types pass through.
 */
import express, { type RequestHandler } from 'express';
import { AppError } from '../../lib/errors';

export interface UploadedFile {
  filename: string;
  /** As the browser declared it: not to be trusted (check the bytes). */
  declaredType: string;
  data: Buffer;
}

const bad = (why: string) => new AppError('VALIDATION_FAILED', `the upload could not be read: ${why}`);

function boundaryOf(contentType: string): string {
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;"]{1,70}))/i.exec(contentType);
  const b = m?.[1] ?? m?.[2];
  if (!b) throw bad('no boundary');
  return b;
}

function parse(body: Buffer, boundary: string, maxParts: number): Record<string, string | UploadedFile> {
  const delimiter = Buffer.from(`--${boundary}`);
  // No prototype: a part named __proto__ is just a field.
  const out: Record<string, string | UploadedFile> = Object.create(null);
  let at = body.indexOf(delimiter);
  if (at < 0) throw bad('no parts');
  let parts = 0;
  for (;;) {
    at += delimiter.length;
    if (body.subarray(at, at + 2).toString('latin1') === '--') return out;
    if (body.subarray(at, at + 2).toString('latin1') !== '\r\n') throw bad('a malformed delimiter');
    at += 2;
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), at);
    if (next < 0) throw bad('an unterminated part');
    if (++parts > maxParts) throw bad('too many parts');
    const part = body.subarray(at, next);
    const split = part.indexOf('\r\n\r\n');
    if (split < 0) throw bad('a part without headers');
    const headers = part.subarray(0, split).toString('utf8').split('\r\n');
    const data = part.subarray(split + 4);
    const disposition = headers.find((h) => /^content-disposition:/i.test(h)) ?? '';
    const name = /;\s*name="([^"]{1,64})"/i.exec(disposition)?.[1];
    if (!/^content-disposition:\s*form-data/i.test(disposition) || !name) throw bad('a part without a name');
    if (name in out) throw bad('a name given twice');
    const filename = /;\s*filename="([^"]{0,255})"/i.exec(disposition)?.[1];
    if (filename !== undefined) {
      const type =
        headers
          .find((h) => /^content-type:/i.test(h))
          ?.split(':')[1]
          ?.trim() ?? '';
      out[name] = { filename, declaredType: type, data: Buffer.from(data) };
    } else {
      if (data.length > 4096) throw bad('a field too long');
      out[name] = data.toString('utf8');
    }
    at = next + 2;
  }
}

export function multipartForm(o: { limit: number; maxParts: number }): RequestHandler[] {
  return [
    express.raw({ type: 'multipart/form-data', limit: o.limit, inflate: false }),
    (req, _res, next) => {
      if (!req.is('multipart/form-data') || !Buffer.isBuffer(req.body)) return next();
      try {
        req.body = parse(req.body, boundaryOf(req.get('content-type') ?? ''), o.maxParts);
      } catch (err) {
        return next(err);
      }
      next();
    },
  ];
}
