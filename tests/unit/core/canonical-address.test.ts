import { canonicalAddress } from '../../../src/modules/nas/nas.service';
import { AppError } from '../../../src/lib/errors';

describe('canonicalAddress', () => {
  it('prints addresses as FreeRADIUS does', () => {
    expect(canonicalAddress('10.0.0.1')).toBe('10.0.0.1');
    expect(canonicalAddress('2001:DB8:0:0::5')).toBe('2001:db8::5');
  });

  it('refuses an IPv6 zone id (which isIP accepts) as VALIDATION_FAILED naming the field', () => {
    for (const a of ['fe80::1%eth0', 'fe80::1%25eth0', 'fe80::1%1']) {
      let err: unknown;
      try {
        canonicalAddress(a, 'query.address');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(AppError);
      expect(err).toMatchObject({ code: 'VALIDATION_FAILED', details: { errors: [{ path: 'query.address' }] } });
    }
  });
});
