import {
  groupRows,
  planCoaAttributes,
  planReply,
  rateLimitReply,
  INTERIM_FLOOR_SECONDS,
} from '../../../src/modules/plans/radius-profile';
import { softBlockReply } from '../../../src/modules/enforcement/soft-block';

const plan = { rateLimit: '2M/5M', interimIntervalSeconds: 300, idleTimeoutSeconds: 600, simultaneousUse: 2 };

describe('a plan as RADIUS attributes (one profile for group rows, CoA and the soft block)', () => {
  it('group rows: reply and check items with :=', () => {
    const rows = groupRows('t1', 'plan-x', plan);
    expect(rows.reply).toEqual([
      { tenant_id: 't1', groupname: 'plan-x', attribute: 'Acct-Interim-Interval', op: ':=', value: '300' },
      { tenant_id: 't1', groupname: 'plan-x', attribute: 'Mikrotik-Rate-Limit', op: ':=', value: '2M/5M' },
      { tenant_id: 't1', groupname: 'plan-x', attribute: 'WISPr-Bandwidth-Max-Up', op: ':=', value: '2000000' },
      { tenant_id: 't1', groupname: 'plan-x', attribute: 'WISPr-Bandwidth-Max-Down', op: ':=', value: '5000000' },
      { tenant_id: 't1', groupname: 'plan-x', attribute: 'Idle-Timeout', op: ':=', value: '600' },
    ]);
    expect(rows.check).toEqual([
      { tenant_id: 't1', groupname: 'plan-x', attribute: 'Simultaneous-Use', op: ':=', value: '2' },
    ]);
  });

  it('clamps WISPr bandwidths to 32 bits and leaves out what the plan does not set', () => {
    expect(planReply({ ...plan, rateLimit: '10G/10G', idleTimeoutSeconds: null })).toEqual([
      { attribute: 'Acct-Interim-Interval', value: '300' },
      { attribute: 'Mikrotik-Rate-Limit', value: '10G/10G' },
      { attribute: 'WISPr-Bandwidth-Max-Up', value: '4294967295' },
      { attribute: 'WISPr-Bandwidth-Max-Down', value: '4294967295' },
    ]);
    expect(
      planReply({ ...plan, rateLimit: null, idleTimeoutSeconds: null, interimIntervalSeconds: INTERIM_FLOOR_SECONDS }),
    ).toEqual([{ attribute: 'Acct-Interim-Interval', value: String(INTERIM_FLOOR_SECONDS) }]);
  });

  it('a plan change sends by CoA only the rate limit of the same profile; nothing without one', () => {
    expect(planCoaAttributes(plan)).toEqual([{ name: 'Mikrotik-Rate-Limit', value: '2M/5M' }]);
    expect(planCoaAttributes({ ...plan, rateLimit: null })).toEqual([]);
  });

  it('the soft block: address list, the rate limit without WISPr, the Class, a short session', () => {
    expect(
      softBlockReply({
        walledGardenList: 'lango-blocked',
        softBlockRateLimit: '64k/64k',
        softBlockSessionTimeout: 900,
      }),
    ).toEqual([
      { attribute: 'Mikrotik-Address-List', value: 'lango-blocked' },
      { attribute: 'Mikrotik-Rate-Limit', value: '64k/64k' },
      { attribute: 'Class', value: 'lango-soft-block' },
      { attribute: 'Session-Timeout', value: '900' },
    ]);
  });

  it('refuses a rate limit the grammar refuses', () => {
    expect(() => rateLimitReply('fast please', { wispr: true })).toThrow();
  });
});
