/**
 * The RouterOS script renderer: string escaping (checked by decoding with RouterOS's rules),
 * the template language's refusals, and a golden render of mikrotik/lango.rsc.tmpl.
 * Set LANGO_UPDATE_GOLDEN=1 to rewrite the golden file after an intended template change.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  hotspotLoginHtml,
  loadMikrotikTemplate,
  mikrotikScriptData,
  renderMikrotikScript,
  renderTemplate,
  routerOsQuote,
  TemplateError,
  type MikrotikScriptInput,
} from '../../../src/mikrotik/script';

/** Decodes a RouterOS string literal to its bytes, as the scripting manual defines escapes. */
function routerOsUnquote(literal: string): Buffer {
  expect(literal.startsWith('"') && literal.endsWith('"') && literal.length >= 2).toBe(true);
  const body = literal.slice(1, -1);
  const named: Record<string, number> = { '"': 0x22, '\\': 0x5c, $: 0x24, '?': 0x3f, n: 0x0a, r: 0x0d, t: 0x09, _: 0x20, a: 0x07, b: 0x08, f: 0x0c, v: 0x0b };
  const bytes: number[] = [];
  for (let i = 0; i < body.length; i += 1) {
    const ch = body[i] as string;
    if (ch === '"' || ch === '$' || ch === '?') throw new Error(`unescaped ${ch} at ${i} in ${literal}`);
    if (ch !== '\\') {
      bytes.push(ch.charCodeAt(0));
      continue;
    }
    const next = body[i + 1] ?? '';
    const hex = body.slice(i + 1, i + 3);
    if (/^[0-9A-F]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (named[next] !== undefined) {
      bytes.push(named[next] as number);
      i += 1;
    } else {
      throw new Error(`bad escape \\${next} in ${literal}`);
    }
  }
  return Buffer.from(bytes);
}

describe('routerOsQuote', () => {
  it('escapes what RouterOS gives a meaning inside quotes', () => {
    expect(routerOsQuote('plain-value_1.2')).toBe('"plain-value_1.2"');
    expect(routerOsQuote('')).toBe('""');
    expect(routerOsQuote('say "hi"')).toBe('"say \\"hi\\""');
    expect(routerOsQuote('C:\\path')).toBe('"C:\\\\path"');
    expect(routerOsQuote('$var and $(cmd)')).toBe('"\\$var and \\$(cmd)"');
    expect(routerOsQuote('why?')).toBe('"why\\?"');
    expect(routerOsQuote('a\nb\r\tc')).toBe('"a\\nb\\r\\tc"');
    expect(routerOsQuote('[find] {x}; # not a comment')).toBe('"[find] {x}; # not a comment"');
  });

  it('writes control characters and non-ASCII as \\XX bytes (capital hex)', () => {
    expect(routerOsQuote('\u0001\u001f\u007f')).toBe('"\\01\\1F\\7F"');
    expect(routerOsQuote('Café')).toBe('"Caf\\C3\\A9"');
    expect(routerOsQuote('😀')).toBe('"\\F0\\9F\\98\\80"');
  });

  it('round-trips every character through RouterOS decoding and never emits a raw line break', () => {
    const samples: string[] = [];
    for (let cp = 0; cp < 0x250; cp += 1) samples.push(String.fromCodePoint(cp));
    samples.push('se"c$r?t\\\n\u2028end', 'Wanjiru\'s "Wi-Fi" ?$\\', '\u{1F600}x');
    for (const s of samples) {
      const quoted = routerOsQuote(s);
      expect(quoted).toMatch(/^"[\x20-\x7e]*"$/);
      expect(routerOsUnquote(quoted).equals(Buffer.from(s, 'utf8'))).toBe(true);
    }
  });
});

describe('renderTemplate', () => {
  it('quotes strings, writes numbers bare and keeps other text as is', () => {
    expect(renderTemplate('/radius add secret={{s}} timeout={{t}}ms { braces }', { s: 'a"b', t: 3000 })).toBe(
      '/radius add secret="a\\"b" timeout=3000ms { braces }',
    );
  });

  it('renders sections and inverted sections; a tag alone on its line takes the line', () => {
    const tpl = 'a\n{{#on}}\nyes {{v}}\n{{/on}}\n{{^on}}\nno\n{{/on}}\nz\n';
    expect(renderTemplate(tpl, { on: true, v: 1 })).toBe('a\nyes 1\nz\n');
    expect(renderTemplate(tpl, { on: false, v: 1 })).toBe('a\nno\nz\n');
    expect(renderTemplate('x{{#on}} inline{{/on}}!', { on: true })).toBe('x inline!');
    expect(renderTemplate('{{#a}}{{#b}}ab{{/b}}{{/a}}', { a: true, b: true })).toBe('ab');
    expect(renderTemplate('{{#a}}{{#b}}ab{{/b}}{{/a}}', { a: true, b: false })).toBe('');
  });

  function reason(fn: () => unknown): string {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(TemplateError);
      return (err as TemplateError).reason;
    }
    throw new Error('expected a TemplateError');
  }

  it('refuses unknown placeholders, also inside sections that are not rendered', () => {
    expect(reason(() => renderTemplate('secret={{secrte}}', { secret: 'x' }))).toBe('UNKNOWN_PLACEHOLDER');
    expect(reason(() => renderTemplate('{{#off}}{{typo}}{{/off}}', { off: false }))).toBe('UNKNOWN_PLACEHOLDER');
    expect(reason(() => renderTemplate('{{#nope}}x{{/nope}}', {}))).toBe('UNKNOWN_PLACEHOLDER');
    // inherited properties are not data
    expect(reason(() => renderTemplate('{{toString}}', {}))).toBe('UNKNOWN_PLACEHOLDER');
  });

  it('refuses malformed tags, unbalanced sections and wrong value types', () => {
    expect(reason(() => renderTemplate('{{ name }}', { name: 'x' }))).toBe('MALFORMED_TAG');
    expect(reason(() => renderTemplate('{{na-me}}', {}))).toBe('MALFORMED_TAG');
    expect(reason(() => renderTemplate('{{name', { name: 'x' }))).toBe('MALFORMED_TAG');
    expect(reason(() => renderTemplate('{{#a}}x', { a: true }))).toBe('UNBALANCED_SECTION');
    expect(reason(() => renderTemplate('x{{/a}}', { a: true }))).toBe('UNBALANCED_SECTION');
    expect(reason(() => renderTemplate('{{#a}}{{#b}}{{/a}}{{/b}}', { a: true, b: true }))).toBe('UNBALANCED_SECTION');
    expect(reason(() => renderTemplate('{{flag}}', { flag: true }))).toBe('WRONG_TYPE');
    expect(reason(() => renderTemplate('{{n}}', { n: Number.NaN }))).toBe('WRONG_TYPE');
    expect(reason(() => renderTemplate('{{#s}}x{{/s}}', { s: 'yes' }))).toBe('WRONG_TYPE');
  });
});

const SAMPLE: MikrotikScriptInput = {
  nas: {
    id: '0b6f3a52-7a1e-4a53-9a3c-3d2b1c4e5f60',
    name: 'Kibera "core" $1?',
    address: '41.90.12.7',
    identifier: 'kibera-core',
    secret: 's3c"r$t\\?',
    coaPort: 3799,
    apiPort: 8728,
    apiTls: false,
    apiUsername: 'lango-api',
  },
  tenant: { name: 'Mtaa WiFi', slug: 'mtaa-wifi' },
  radius: { server: 'radius.lango.example', authPort: 1812, acctPort: 1813 },
  services: ['ppp', 'hotspot'],
  hotspotProfile: 'hsprof1',
  portalHost: 'pay.mtaa.example',
};

describe('the provisioning template', () => {
  const template = loadMikrotikTemplate();

  it('renders the sample NAS exactly as the golden file', () => {
    const golden = path.join(__dirname, 'golden', 'lango-sample.rsc');
    const out = renderMikrotikScript(SAMPLE, template);
    if (process.env.LANGO_UPDATE_GOLDEN === '1') writeFileSync(golden, out);
    expect(out).toBe(readFileSync(golden, 'utf8'));
  });

  it('is ASCII with LF line ends, and uses every value it is given', () => {
    const out = renderMikrotikScript(SAMPLE, template);
    expect(out).toMatch(/^[\x20-\x7e\n]*$/);
    const used = new Set([...template.matchAll(/\{\{[#^/]?([A-Za-z0-9]+)\}\}/g)].map((m) => m[1]));
    expect(Object.keys(mikrotikScriptData(SAMPLE)).filter((k) => !used.has(k))).toEqual([]);
  });

  it('the parts the router needs are there, with the values escaped', () => {
    const out = renderMikrotikScript(SAMPLE, template);
    expect(out).toContain('secret="s3c\\"r\\$t\\\\\\?" service="hotspot,ppp" authentication-port=1812 accounting-port=1813');
    expect(out).toContain('/radius incoming set accept=yes port=3799');
    expect(out).toContain('/ip hotspot profile set [find name="hsprof1"] use-radius=yes radius-accounting=yes radius-interim-update=received');
    expect(out).toContain('/ppp aaa set use-radius=yes accounting=yes interim-update=5m');
    expect(out).toContain('/ip hotspot walled-garden add dst-host="pay.mtaa.example" action=allow');
    expect(out).toContain('src-address-list="lango-blocked"');
    expect(out).toContain('/system identity set name="kibera-core"');
    expect(out).toContain(':set langoRadius [:resolve $langoRadius]');
    // the comment header cannot be broken out of
    expect(out).toContain('#   NAS      "Kibera \\"core\\" \\$1\\?"');
  });

  it('leaves out what was not asked for', () => {
    const out = renderMikrotikScript(
      {
        ...SAMPLE,
        nas: { ...SAMPLE.nas, identifier: null, coaPort: 13799, apiTls: true, apiPort: 8729, apiUsername: null },
        radius: { server: '192.0.2.10', authPort: 11812, acctPort: 11813, timeoutMs: 1500 },
        services: ['ppp'],
        portalHost: null,
      },
      template,
    );
    // commands start a line; comments may mention them
    expect(out).not.toContain('\n/ip hotspot');
    expect(out).not.toContain('\n/system identity');
    expect(out).not.toContain(':resolve');
    expect(out).not.toContain('\n/ip firewall');
    expect(out).toContain('No portal host was given');
    expect(out).toContain(':local langoRadius "192.0.2.10"');
    expect(out).toContain('service="ppp" authentication-port=11812 accounting-port=11813 timeout=1500ms');
    expect(out).toContain('/radius incoming set accept=yes port=13799');
    expect(out).toContain('/ip service set "api-ssl" port=8729');
    expect(out).toContain('/ppp aaa set use-radius=yes');
  });

  it('uses the IP forms of the walled garden for a portal given as an address', () => {
    const out = renderMikrotikScript({ ...SAMPLE, services: ['hotspot'], portalHost: '198.51.100.7' }, template);
    expect(out).toContain('/ip hotspot walled-garden ip add dst-address="198.51.100.7" action=accept');
    expect(out).not.toContain('[:resolve $langoPortal]');
    expect(out).not.toContain('/ppp aaa');
    expect(out).toContain('service="hotspot"');
  });

  it('needs at least one service', () => {
    expect(() => renderMikrotikScript({ ...SAMPLE, services: [] }, template)).toThrow(TypeError);
  });

  it("installs mikrotik/hotspot/login.html with the tenant's portal URL (the hotspot simulator serves the same file)", () => {
    const out = renderMikrotikScript(SAMPLE, template);
    const m = /^\/file set \[find name=\$langoLoginFile\] contents=(".*")$/m.exec(out);
    expect(m).not.toBeNull();
    const decoded = routerOsUnquote(m![1]!).toString('utf8');
    expect(decoded).toBe(hotspotLoginHtml(`http://pay.mtaa.example/portal/${SAMPLE.tenant.slug}/hotspot`));
    expect(decoded).toContain(`url=http://pay.mtaa.example/portal/${SAMPLE.tenant.slug}/hotspot?link-login-only=$(link-login-only-esc)`);
    expect(renderMikrotikScript({ ...SAMPLE, portalHost: null }, template)).not.toContain('langoLoginFile');
  });
});
