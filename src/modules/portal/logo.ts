/**
 * What a portal logo may be: PNG, JPEG or WebP, recognised by its first bytes (the name and the
 * declared type are not trusted), at most 200 KB. SVG is refused: it can carry script, and the
 * portal serves the logo from its own origin.
 */
import { AppError } from '../../lib/errors';

export const MAX_LOGO_BYTES = 200 * 1024;
export type LogoType = 'image/png' | 'image/jpeg' | 'image/webp';

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The image type the bytes start with, if one of the three. */
export function sniffLogo(b: Buffer): LogoType | undefined {
  if (b.length >= 8 && b.subarray(0, 8).equals(PNG)) return 'image/png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (b.length >= 12 && b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP')
    return 'image/webp';
  return undefined;
}

/** The bytes' type, or VALIDATION_FAILED saying why (at `path`). */
export function checkLogo(b: Buffer, path: string): LogoType {
  const refuse = (message: string) =>
    new AppError('VALIDATION_FAILED', `logo: ${message}`, { errors: [{ path, message }] });
  if (b.length === 0) throw refuse('the file is empty');
  if (b.length > MAX_LOGO_BYTES) throw refuse('at most 200 KB');
  const type = sniffLogo(b);
  if (!type) throw refuse('a PNG, JPEG or WebP image (SVG is not accepted)');
  return type;
}
