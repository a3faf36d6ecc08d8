/**
 * The portal's CHAP: the page's inline MD5 (run here in a VM with the form it reads) gives the
 * same response as node:crypto, for passwords of every length class and non-ASCII; the octal
 * escapes of RouterOS's $(chap-id)/$(chap-challenge) round-trip.
 */
import { createHash } from 'node:crypto';
import vm from 'node:vm';
import { LOGIN_SCRIPT } from '../../../src/http/portal/login-script';
import { chapResponse, decodeOctal, encodeOctal, isOctalEscaped } from '../../../src/modules/portal/chap';

function pageResponse(chapId: string, secret: string, chapChallenge: string): { password: string; submitted: boolean } {
  const form = {
    dataset: { chapId, chapChallenge, secret },
    elements: { password: { value: '' } },
    submitted: false,
    submit() {
      this.submitted = true;
    },
  };
  vm.runInNewContext(LOGIN_SCRIPT, {
    document: { getElementById: (id: string) => (id === 'login' ? form : null) },
    unescape,
    encodeURIComponent,
  });
  return { password: form.elements.password.value, submitted: form.submitted };
}

describe('CHAP for the MikroTik login form', () => {
  const id = '\\371';
  const challenge = encodeOctal(Buffer.from('00ff807f1b79240a0b0c0d0e0f101112', 'hex'));

  it('octal escapes round-trip and are recognised', () => {
    expect(decodeOctal(challenge).toString('hex')).toBe('00ff807f1b79240a0b0c0d0e0f101112');
    expect(isOctalEscaped('\\371\\000')).toBe(true);
    expect(isOctalEscaped('\\400')).toBe(false);
    expect(isOctalEscaped('371')).toBe(false);
    expect(isOctalEscaped('\\37')).toBe(false);
  });

  it.each(['', 'a', 'ZX9K2M4P7Q', 'päss wörd', 'x'.repeat(55), 'y'.repeat(56), 'z'.repeat(130)])(
    'the page computes what node:crypto computes (%#)',
    (pw) => {
      const r = pageResponse(id, pw, challenge);
      expect(r.password).toBe(chapResponse(id, pw, challenge));
      expect(r.password).toMatch(/^[0-9a-f]{32}$/);
      expect(r.submitted).toBe(true);
    },
  );

  it('matches a hand-computed MD5 of id || password || challenge', () => {
    // MD5(0xf9 "pw" 0x00ff807f...) by node:crypto directly
    const want = createHash('md5')
      .update(
        Buffer.concat([Buffer.from([0xf9]), Buffer.from('pw'), Buffer.from('00ff807f1b79240a0b0c0d0e0f101112', 'hex')]),
      )
      .digest('hex');
    expect(chapResponse(id, 'pw', challenge)).toBe(want);
  });
});
