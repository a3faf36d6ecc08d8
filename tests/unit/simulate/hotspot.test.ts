/** The hotspot servlet's pieces: the page's MD5, RouterOS's octal escapes, servlet variables, the shipped login.html. */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { octalEscape, octalUnescape, PAGE_MD5, renderServletPage } from '../../../src/simulate/hotspot';

const pageMd5 = new Function(`${PAGE_MD5}; return hexMD5;`)() as (s: string) => string;
const latin1 = (b: Buffer) => b.toString('latin1');

describe('the login page MD5 (what the browser computes)', () => {
  it('equals MD5 of the bytes for every length around the block boundaries and random bytes', () => {
    for (let n = 0; n < 140; n++) {
      const b = randomBytes(n);
      expect([n, pageMd5(latin1(b))]).toEqual([n, createHash('md5').update(b).digest('hex')]);
    }
    expect(pageMd5('')).toBe('d41d8cd98f00b204e9800998ecf8427e');
    expect(pageMd5('abc')).toBe('900150983cd24fb0d6963f7d28e17f72');
  });

  it('chap-id + password + chap-challenge, as RouterOS expects', () => {
    const id = Buffer.from([0xf9]);
    const challenge = randomBytes(16);
    // The page gets the octal-escaped text inside a JS string: decoding it gives the bytes back.
    const inPage = new Function(
      `return '${octalEscape(id)}' + 'KX7P4M9Q2R' + '${octalEscape(challenge)}';`,
    )() as string;
    expect(pageMd5(inPage)).toBe(
      createHash('md5')
        .update(Buffer.concat([id, Buffer.from('KX7P4M9Q2R'), challenge]))
        .digest('hex'),
    );
  });
});

describe('servlet variables', () => {
  it('octal escapes round-trip', () => {
    const b = randomBytes(32);
    expect(octalEscape(Buffer.from([0, 8, 255]))).toBe('\\000\\010\\377');
    expect(octalUnescape(octalEscape(b))).toEqual(b);
  });

  it('$(x), $(x-esc), $(if x) ... $(else) ... $(endif)', () => {
    const t = '<a href="/p?e=$(error-esc)">$(error)</a>$(if chap-id)chap$(else)pap$(endif)|$(if mac)m$(endif)';
    expect(renderServletPage(t, { error: 'a <b> & c', 'chap-id': '\\001', mac: '' })).toBe(
      '<a href="/p?e=a%20%3Cb%3E%20%26%20c">a &lt;b&gt; &amp; c</a>chap|',
    );
    expect(renderServletPage(t, { error: '' })).toBe('<a href="/p?e="></a>pap|');
  });

  it('the shipped login.html redirects to the portal with every login parameter, URL-escaped', () => {
    const file = readFileSync(path.join(__dirname, '../../../mikrotik/hotspot/login.html'), 'utf8').replaceAll(
      'LANGO_PORTAL_URL',
      'http://portal.example/portal/acme/hotspot',
    );
    const vars = {
      'link-login-only': 'http://10.5.50.1/login',
      mac: 'AA:BB:CC:DD:EE:FF',
      ip: '10.5.50.7',
      'chap-id': '\\371',
      'chap-challenge': '\\001\\377',
      'link-orig': 'http://news.example/?a=1&b=2',
      error: '',
    };
    const html = renderServletPage(file, vars);
    const m = /http-equiv="refresh" content="0; url=([^"]+)"/.exec(html);
    expect(m).not.toBeNull();
    const u = new URL(m![1]!.replaceAll('&amp;', '&'));
    expect(u.origin + u.pathname).toBe('http://portal.example/portal/acme/hotspot');
    expect(Object.fromEntries(u.searchParams)).toEqual(vars);
    expect(Buffer.byteLength(file)).toBeLessThan(4096);
    // Without CHAP (login-by=http-pap) the same redirect without the chap fields.
    const pap = new URL(
      /url=([^"]+)"/
        .exec(renderServletPage(file, { ...vars, 'chap-id': '', 'chap-challenge': '' }))![1]!
        .replaceAll('&amp;', '&'),
    );
    expect(pap.searchParams.has('chap-id')).toBe(false);
    expect(pap.searchParams.get('mac')).toBe('AA:BB:CC:DD:EE:FF');
  });
});
