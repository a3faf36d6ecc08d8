/** Payments' pure parts: the SMS texts (language, time zone, money) and the statement CSV reader. */
import {
  formatMoney,
  receiptMessage,
  credentialsMessage,
  reminderMessage,
  formatInstant,
} from '../../../src/modules/payments/messages';
import { csvRecords, parseStatement, statementTime } from '../../../src/modules/payments/statement';
import { paymentMessage } from '../../../src/modules/payments/payments.service';

const en = { language: 'en' as const, timeZone: 'Africa/Nairobi', currency: 'KES', tenantName: 'Net' };
const sw = { ...en, language: 'sw' as const };

describe('messages', () => {
  it('show money in major units and instants in the tenant zone', () => {
    expect(formatMoney(5000, 'KES')).toBe('KES 50');
    expect(formatMoney(5050, 'KES')).toBe('KES 50.50');
    // 21:30 UTC is 00:30 the next day in Nairobi
    expect(formatInstant(new Date('2026-12-02T21:30:00Z'), en)).toMatch(/3 Dec 2026.*00:30/);
    expect(formatInstant(new Date('2026-12-02T21:30:00Z'), { language: 'en', timeZone: 'UTC' })).toMatch(
      /2 Dec 2026.*21:30/,
    );
  });

  it('English and Swahili receipts name the plan, the expiry and the account', () => {
    const o = {
      amount: 5000,
      receipt: 'NLJ7RT61SV',
      planName: 'Daily',
      endsAt: new Date('2026-12-03T09:00:00Z'),
      accountNumber: 'A100001',
    };
    expect(receiptMessage(en, o)).toBe(
      'Net: We received KES 50 (NLJ7RT61SV). Plan: Daily, valid until 3 Dec 2026, 12:00. Account: A100001.',
    );
    expect(receiptMessage(sw, o)).toMatch(
      /^Net: Tumepokea KES 50 \(NLJ7RT61SV\)\. Kifurushi: Daily, hadi .*Akaunti: A100001\.$/,
    );
    expect(credentialsMessage(sw, { username: 'u1', password: 'p1', planName: 'Daily', endsAt: o.endsAt })).toContain(
      'nenosiri p1',
    );
    expect(reminderMessage(en, { planName: 'Daily', endsAt: o.endsAt, accountNumber: 'A1' })).toContain('account A1');
    expect(receiptMessage(en, o).length).toBeLessThanOrEqual(160);
  });

  it('tell a buyer where a payment stands', () => {
    expect(paymentMessage({ state: 'cancelled', result_code: '1032', allocation: null })).toMatch(/cancelled/);
    expect(paymentMessage({ state: 'failed', result_code: '1', allocation: null })).toMatch(/balance/);
    expect(paymentMessage({ state: 'completed', result_code: '0', allocation: 'unallocated' })).toMatch(/staff/);
    expect(paymentMessage({ state: 'failed', result_code: 'daraja:busy', allocation: null })).toMatch(
      /did not go through/,
    );
  });
});

describe('statement CSV', () => {
  it('reads quoted fields, doubled quotes and CRLF', () => {
    expect(csvRecords('a,"b,c","d ""e"""\r\n1,2,3')).toEqual([
      ['a', 'b,c', 'd "e"'],
      ['1', '2', '3'],
    ]);
  });

  it('reads Nairobi times in the portal formats', () => {
    expect(statementTime('2026-12-02 10:00:00')?.toISOString()).toBe('2026-12-02T07:00:00.000Z');
    expect(statementTime('02-12-2026 10:00:00')?.toISOString()).toBe('2026-12-02T07:00:00.000Z');
    expect(statementTime('2026-02-30 10:00:00')).toBeNull();
    expect(statementTime('yesterday')).toBeNull();
  });

  it('keeps money paid in, skips money out and other statuses, reports what it cannot read', () => {
    const st = parseStatement(
      [
        '\uFEFFOrganization Name,Demo',
        'Receipt No.,Completion Time,Details,Transaction Status,Paid In,Withdrawn',
        'AAA1111111,2026-12-02 10:00:00,Pay Bill,Completed,"1,000.50",',
        'BBB2222222,2026-12-02 11:00:00,Withdrawal,Completed,,200.00',
        'CCC3333333,2026-12-02 12:00:00,Pay Bill,Failed,10.00,',
        'AAA1111111,2026-12-02 13:00:00,Pay Bill,Completed,5.00,',
        'DDD4444444,2026-12-02 14:00:00,Pay Bill,Completed,lots,',
      ].join('\n'),
    );
    expect(st.lines).toEqual([
      { receipt: 'AAA1111111', amount: 100050, completedAt: new Date('2026-12-02T07:00:00Z') },
    ]);
    expect(st.unreadable.map((u) => u.line)).toEqual([6, 7]);
    expect(st.from?.toISOString()).toBe('2026-12-02T07:00:00.000Z');
    expect(parseStatement('just,some,text').unreadable[0]!.reason).toMatch(/header/);
  });
});
