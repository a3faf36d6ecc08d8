/**
 * The logo's checks (src/modules/portal/logo.ts: the type from the bytes, SVG and other files
 * refused, 200 KB) and the dashboard's strict multipart parsing (src/http/middleware/multipart.ts).
 */
import express from 'express';
import request from 'supertest';
import { AppError } from '../../../src/lib/errors';
import { checkLogo, MAX_LOGO_BYTES, sniffLogo } from '../../../src/modules/portal/logo';
import { multipartForm } from '../../../src/http/middleware/multipart';

describe('sniffLogo / checkLogo', () => {
  const png = Buffer.from('89504e470d0a1a0a0000', 'hex');
  const jpeg = Buffer.from('ffd8ffe000104a464946', 'hex');
  const webp = Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('WEBPVP8 ')]);
  it('knows PNG, JPEG and WebP by their first bytes', () => {
    expect([sniffLogo(png), sniffLogo(jpeg), sniffLogo(webp)]).toEqual(['image/png', 'image/jpeg', 'image/webp']);
  });
  it.each([
    ['SVG', Buffer.from('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>'), 'SVG is not accepted'],
    ['GIF', Buffer.from('GIF89a......'), 'SVG is not accepted'],
    ['RIFF that is not WebP', Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('WAVE')]), 'PNG, JPEG'],
    ['empty', Buffer.alloc(0), 'empty'],
    ['too big', Buffer.concat([png, Buffer.alloc(MAX_LOGO_BYTES)]), 'at most 200 KB'],
  ])('refuses %s', (_name, bytes, why) => {
    expect(() => checkLogo(bytes, 'body.logo')).toThrow(why);
  });
  it('takes exactly 200 KB', () => {
    expect(checkLogo(Buffer.concat([png, Buffer.alloc(MAX_LOGO_BYTES - png.length)]), 'body.logo')).toBe('image/png');
  });
});

describe('multipartForm', () => {
  const app = express();
  app.use(multipartForm({ limit: 4096, maxParts: 3 }));
  app.post('/', (req, res) => {
    const b = req.body as Record<string, unknown>;
    res.json(
      Object.fromEntries(
        Object.entries(b).map(([k, v]) => [
          k,
          typeof v === 'string' ? v : (v as { data: Buffer }).data.toString('hex'),
        ]),
      ),
    );
  });
  app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(err instanceof AppError ? 400 : 413).json({ error: err instanceof AppError ? err.message : 'other' });
  });
  const raw = (body: string, type = 'multipart/form-data; boundary=XyZ') =>
    request(app)
      .post('/')
      .set('Content-Type', type)
      .send(Buffer.from(body.replace(/\n/g, '\r\n')));

  it('reads text fields and a file', async () => {
    const res = await request(app)
      .post('/')
      .field('_csrf', 'token-1')
      .attach('logo', Buffer.from([1, 2, 3]), { filename: 'a.png', contentType: 'image/png' });
    expect(res.body).toEqual({ _csrf: 'token-1', logo: '010203' });
  });
  it.each([
    ['no boundary', 'x', 'multipart/form-data'],
    ['no parts', 'nothing here', undefined],
    ['an unterminated part', '--XyZ\nContent-Disposition: form-data; name="a"\n\nvalue', undefined],
    ['a part without a name', '--XyZ\nContent-Disposition: form-data\n\nv\n--XyZ--\n', undefined],
    [
      'too many parts',
      [1, 2, 3, 4].map((i) => `--XyZ\nContent-Disposition: form-data; name="f${i}"\n\nv\n`).join('') + '--XyZ--\n',
      undefined,
    ],
  ])('refuses %s with a 400', async (why, body, type) => {
    const res = await raw(body, type);
    expect([res.status, res.body.error]).toEqual([400, `the upload could not be read: ${why}`]);
  });
  it('keeps a part named __proto__ a plain field, and refuses a name given twice', async () => {
    const proto = await request(app)
      .post('/')
      .attach('__proto__', Buffer.from([9]), { filename: 'a.png', contentType: 'image/png' });
    expect(proto.status).toBe(200);
    expect(({} as Record<string, unknown>).data).toBeUndefined();
    const twice = await request(app).post('/').field('a', '1').field('a', '2');
    expect(twice.body.error).toBe('the upload could not be read: a name given twice');
  });
  it('refuses a body over its limit', async () => {
    const res = await request(app)
      .post('/')
      .attach('logo', Buffer.alloc(5000), { filename: 'a.png', contentType: 'image/png' });
    expect(res.status).toBe(413);
  });
});
