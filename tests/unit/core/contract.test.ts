/** What TypeScript and freeradius/policy.d/lango-* must say alike (each is written once on each side). */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { SOFT_BLOCK_CLASS, SOFT_BLOCK_CLASS_RADACCT } from '../../../src/modules/enforcement/contract';
import { INTERIM_FLOOR_SECONDS } from '../../../src/modules/plans/radius-profile';

const POLICY_DIR = path.join(__dirname, '../../../freeradius/policy.d');
/** Lango's policies, all files together (they are split by topic, like upstream's). */
const policy = readdirSync(POLICY_DIR)
  .filter((f) => f.startsWith('lango-'))
  .map((f) => readFileSync(path.join(POLICY_DIR, f), 'utf8'))
  .join('\n');

describe('the FreeRADIUS policy and the TypeScript constants', () => {
  it('set the same interim floor for users without a plan group', () => {
    const floors = [...policy.matchAll(/&Acct-Interim-Interval := (\d+)/g)].map((m) => Number(m[1]));
    expect(floors).toEqual([INTERIM_FLOOR_SECONDS]);
  });

  it('mark soft-blocked sessions with the same Class, which radacct shows in hex', () => {
    const classes = [...policy.matchAll(/&Class := "([^"]*)"/g)].map((m) => m[1]);
    expect(classes).toEqual([SOFT_BLOCK_CLASS]);
    expect(SOFT_BLOCK_CLASS_RADACCT).toBe('0x6c616e676f2d736f66742d626c6f636b');
  });
});
