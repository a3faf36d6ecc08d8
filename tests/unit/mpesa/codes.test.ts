import { darajaTimestamp, stkPassword } from '../../../src/mpesa/password';
import {
  classifyDarajaError,
  DARAJA_ERROR_MESSAGES,
  darajaError,
  stkOutcome,
  stkPaymentState,
  STK_OUTCOME_MESSAGES,
} from '../../../src/mpesa/result-codes';

describe('Daraja codes', () => {
  it.each([
    [0, 'paid', 'completed'],
    ['0', 'paid', 'completed'],
    [' 0 ', 'paid', 'completed'],
    [1, 'insufficient-funds', 'failed'],
    [2, 'amount-out-of-limits', 'failed'],
    [3, 'amount-out-of-limits', 'failed'],
    [4, 'amount-out-of-limits', 'failed'],
    [8, 'amount-out-of-limits', 'failed'],
    [17, 'rule-limited', 'failed'],
    [1001, 'subscriber-locked', 'failed'],
    [1019, 'expired', 'expired'],
    [1025, 'push-error', 'failed'],
    [9999, 'push-error', 'failed'],
    ['1032', 'cancelled', 'cancelled'],
    [1032, 'cancelled', 'cancelled'],
    [1037, 'unreachable', 'expired'],
    [2001, 'wrong-pin', 'failed'],
    [2028, 'type-mismatch', 'failed'],
    ['SFC_IC0003', 'type-mismatch', 'failed'],
    [8006, 'credential-locked', 'failed'],
    [4242, 'other', 'failed'],
    ['weird', 'other', 'failed'],
  ])('ResultCode %p is %s, a %s payment', (code, outcome, state) => {
    const o = stkOutcome(code);
    expect(o).toBe(outcome);
    expect(stkPaymentState(o)).toBe(state);
    expect(STK_OUTCOME_MESSAGES[o]).toBeTruthy();
  });

  it.each([
    ['400.002.02', 'Bad Request - Invalid Amount', 'invalid-request', false],
    ['400.008.01', 'Invalid Authentication passed', 'auth-failed', false],
    ['400.008.02', 'Invalid grant type passed', 'auth-failed', false],
    ['404.001.03', 'Invalid Access Token', 'invalid-token', true],
    ['404.001.01', 'Resource not found', 'wrong-endpoint', false],
    ['405.001', 'Method Not Allowed', 'wrong-endpoint', false],
    ['500.001.1001', 'The transaction is being processed', 'pending', true],
    [
      '500.001.1001',
      'Unable to lock subscriber, a transaction is already in process for the current subscriber',
      'subscriber-locked',
      true,
    ],
    ['500.001.1001', 'Wrong credentials', 'bad-credentials', false],
    ['500.001.1001', 'Merchant does not exist', 'bad-credentials', false],
    ['500.003.02', 'System is busy. Please try again in few minutes.', 'busy', true],
    ['500.003.02', 'Spike arrest violation', 'busy', true],
    ['500.003.03', 'Quota Violation', 'quota', true],
    ['500.003.1001', 'Internal Server Error', 'internal', true],
  ])('errorCode %s (%s) is %s', (code, message, kind, retryable) => {
    const k = classifyDarajaError(code, message);
    expect(k).toBe(kind);
    expect(darajaError(k, message, { code }).retryable).toBe(retryable);
    expect(DARAJA_ERROR_MESSAGES[k]).not.toContain(message);
  });

  it('waits a minute after a locked subscriber', () => {
    expect(darajaError('subscriber-locked', 'x').retryAfterMs).toBe(60_000);
  });

  it('stamps the Password with Nairobi time (UTC+3), not UTC', () => {
    const at = new Date(Date.UTC(2026, 11, 31, 22, 30, 5)); // 01:30:05 on 1 January in Nairobi
    expect(darajaTimestamp(at)).toBe('20270101013005');
    expect(darajaTimestamp(new Date(Date.UTC(2019, 11, 19, 7, 21, 15)))).toBe('20191219102115');
    const pw = stkPassword('174379', 'passkey', '20191219102115');
    expect(Buffer.from(pw, 'base64').toString()).toBe('174379passkey20191219102115');
  });
});
