import {
  amountToMinor,
  C2B_CONFIRMATION_ACK,
  C2B_VALIDATION_ACCEPT,
  c2bValidationReject,
  nairobiTimestampToDate,
  parseC2bNotification,
  parseStkCallback,
  STK_CALLBACK_ACK,
} from '../../../src/mpesa/callbacks';
import { hashPhone } from '../../../src/mpesa/phone';

/** The success callback of reference/protocols.md 3.3, verbatim. */
const SAMPLE =
  JSON.parse(`{"Body":{"stkCallback":{"MerchantRequestID":"29115-34620561-1","CheckoutRequestID":"ws_CO_191220191020363925",
 "ResultCode":0,"ResultDesc":"The service request is processed successfully.",
 "CallbackMetadata":{"Item":[{"Name":"Amount","Value":1.00},{"Name":"MpesaReceiptNumber","Value":"NLJ7RT61SV"},
 {"Name":"TransactionDate","Value":20191219102115},{"Name":"PhoneNumber","Value":254708374149}]}}}}`);

const stk = (cb: Record<string, unknown>) => ({
  Body: {
    stkCallback: { MerchantRequestID: '29115-34620561-1', CheckoutRequestID: 'ws_CO_191220191020363925', ...cb },
  },
});
const items = (list: unknown[]) => ({ CallbackMetadata: { Item: list } });

describe('STK callback', () => {
  it('reads the reference sample', () => {
    const r = parseStkCallback(SAMPLE);
    expect(r).toEqual({
      ok: true,
      merchantRequestId: '29115-34620561-1',
      checkoutRequestId: 'ws_CO_191220191020363925',
      resultCode: '0',
      resultDesc: 'The service request is processed successfully.',
      outcome: 'paid',
      payment: {
        amountMinor: 100,
        receipt: 'NLJ7RT61SV',
        transactionDate: '20191219102115',
        transactedAt: new Date('2019-12-19T07:21:15Z'),
        phone: '254708374149',
        extra: {},
      },
    });
  });

  it('tolerates numbers as strings, a string ResultCode and a Balance item without a Value', () => {
    const r = parseStkCallback(
      stk({
        ResultCode: '0',
        ResultDesc: 'ok',
        ...items([
          { Name: 'Amount', Value: '150' },
          { Name: 'MpesaReceiptNumber', Value: 'nlj7rt61sv' },
          { Name: 'Balance' },
          { Name: 'TransactionDate', Value: '20191219102115' },
          { Name: 'PhoneNumber', Value: '254110123456' },
        ]),
      }),
    );
    expect(r).toMatchObject({
      ok: true,
      resultCode: '0',
      outcome: 'paid',
      payment: { amountMinor: 15000, receipt: 'NLJ7RT61SV', phone: '254110123456', extra: { Balance: null } },
    });
  });

  it('reads failures without metadata, and SFC_IC0003 as a string code', () => {
    expect(parseStkCallback(stk({ ResultCode: 1032, ResultDesc: 'Request cancelled by user' }))).toEqual({
      ok: true,
      merchantRequestId: '29115-34620561-1',
      checkoutRequestId: 'ws_CO_191220191020363925',
      resultCode: '1032',
      resultDesc: 'Request cancelled by user',
      outcome: 'cancelled',
    });
    expect(
      parseStkCallback(stk({ ResultCode: 'SFC_IC0003', ResultDesc: 'The operator does not exist' })),
    ).toMatchObject({ ok: true, resultCode: 'SFC_IC0003', outcome: 'type-mismatch' });
    expect(parseStkCallback(stk({ ResultCode: '1037' }))).toMatchObject({
      ok: true,
      outcome: 'unreachable',
      resultDesc: '',
    });
    // A failure's stray metadata is not a payment.
    expect(parseStkCallback(stk({ ResultCode: 1, ...items([{ Name: 'Amount', Value: 10 }]) }))).not.toHaveProperty(
      'payment',
    );
  });

  it('tolerates a missing PhoneNumber or TransactionDate on success, not a missing Amount or receipt', () => {
    const ok = parseStkCallback(
      stk({
        ResultCode: 0,
        ...items([
          { Name: 'Amount', Value: 10 },
          { Name: 'MpesaReceiptNumber', Value: 'ABC123DEF4' },
        ]),
      }),
    );
    expect(ok).toMatchObject({ ok: true, payment: { amountMinor: 1000, receipt: 'ABC123DEF4' } });
    expect(ok.ok && ok.payment?.phone).toBeFalsy();
    for (const list of [
      [{ Name: 'MpesaReceiptNumber', Value: 'ABC123DEF4' }],
      [{ Name: 'Amount', Value: 10 }],
      [
        { Name: 'Amount', Value: 10 },
        { Name: 'MpesaReceiptNumber', Value: '' },
      ],
      [
        { Name: 'Amount', Value: 10 },
        { Name: 'MpesaReceiptNumber', Value: 'bad receipt!' },
      ],
      [
        { Name: 'Amount', Value: -5 },
        { Name: 'MpesaReceiptNumber', Value: 'ABC123DEF4' },
      ],
      [
        { Name: 'Amount', Value: 0 },
        { Name: 'MpesaReceiptNumber', Value: 'ABC123DEF4' },
      ],
      [
        { Name: 'Amount', Value: 1.005 },
        { Name: 'MpesaReceiptNumber', Value: 'ABC123DEF4' },
      ],
      [
        { Name: 'Amount', Value: '1e3' },
        { Name: 'MpesaReceiptNumber', Value: 'ABC123DEF4' },
      ],
      [
        { Name: 'Amount', Value: 'NaN' },
        { Name: 'MpesaReceiptNumber', Value: 'ABC123DEF4' },
      ],
      [
        { Name: 'Amount', Value: 10 },
        { Name: 'Amount', Value: 1000 },
        { Name: 'MpesaReceiptNumber', Value: 'ABC123DEF4' },
      ],
      [{ Value: 10 }],
      ['Amount'],
    ]) {
      const r = parseStkCallback(stk({ ResultCode: 0, ...items(list) }));
      expect(r.ok).toBe(false);
    }
    expect(parseStkCallback(stk({ ResultCode: 0 }))).toEqual({
      ok: false,
      reason: 'a successful callback without CallbackMetadata.Item',
    });
  });

  it.each([
    ['null', null],
    ['a string', 'Body'],
    ['an array', [SAMPLE]],
    ['no Body', {}],
    ['Body without stkCallback', { Body: {} }],
    ['a missing CheckoutRequestID', { Body: { stkCallback: { MerchantRequestID: 'x', ResultCode: 0 } } }],
    ['a CheckoutRequestID with spaces', stk({ CheckoutRequestID: "ws_CO_1' OR 1=1", ResultCode: 0 })],
    ['a CheckoutRequestID as an object', stk({ CheckoutRequestID: { $ne: 1 }, ResultCode: 0 })],
    ['a missing ResultCode', stk({})],
    ['a ResultCode that is an object', stk({ ResultCode: { a: 1 } })],
    ['a ResultCode that is a boolean', stk({ ResultCode: false })],
    [
      'too many items',
      stk({ ResultCode: 0, ...items(Array.from({ length: 51 }, (_, i) => ({ Name: `n${i}`, Value: i }))) }),
    ],
  ])('refuses %s with a reason, without throwing', (_, body) => {
    const r = parseStkCallback(body);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toBeTruthy();
  });

  it('survives deep and huge bodies', () => {
    let deep: unknown = {};
    for (let i = 0; i < 10000; i++) deep = { Body: deep };
    expect(parseStkCallback(deep).ok).toBe(false);
    const huge = stk({
      ResultCode: 0,
      ResultDesc: 'x'.repeat(100000),
      ...items([
        { Name: 'Amount', Value: 1 },
        { Name: 'MpesaReceiptNumber', Value: 'ABC123DEF4' },
      ]),
    });
    expect(parseStkCallback(huge)).toMatchObject({ ok: true, resultDesc: '' });
  });
});

describe('C2B notifications', () => {
  const base = {
    TransactionType: 'Pay Bill',
    TransID: 'RKTQDM7W6S',
    TransTime: '20191122063845',
    TransAmount: '10',
    BusinessShortCode: '600638',
    BillRefNumber: 'A123',
    InvoiceNumber: '',
    OrgAccountBalance: '49197.00',
    ThirdPartyTransID: '',
    MSISDN: '25470****149',
    FirstName: 'John',
    MiddleName: '',
    LastName: 'Doe',
  };

  it('reads the documented payload with a masked MSISDN', () => {
    expect(parseC2bNotification(base)).toEqual({
      ok: true,
      transactionType: 'Pay Bill',
      transId: 'RKTQDM7W6S',
      transTime: '20191122063845',
      transactedAt: new Date('2019-11-22T03:38:45Z'),
      amountMinor: 1000,
      businessShortCode: '600638',
      billRefNumber: 'A123',
      invoiceNumber: '',
      orgAccountBalance: '49197.00',
      thirdPartyTransId: '',
      msisdn: { kind: 'masked', masked: '25470****149', prefix: '25470', suffix: '149' },
      firstName: 'John',
      middleName: '',
      lastName: 'Doe',
    });
  });

  it('reads hashed and plain MSISDNs, numbers as numbers, and missing optional fields', () => {
    const hash = hashPhone('0708374149');
    expect(parseC2bNotification({ ...base, MSISDN: hash })).toMatchObject({
      ok: true,
      msisdn: { kind: 'hashed', hash },
    });
    expect(
      parseC2bNotification({ ...base, MSISDN: 254708374149, TransAmount: 10.5, BusinessShortCode: 600638 }),
    ).toMatchObject({
      ok: true,
      amountMinor: 1050,
      businessShortCode: '600638',
      msisdn: { kind: 'plain', msisdn: '254708374149' },
    });
    const minimal = parseC2bNotification({ TransID: 'RKTQDM7W6S', TransAmount: '10', BusinessShortCode: '600638' });
    expect(minimal).toMatchObject({ ok: true, billRefNumber: '', msisdn: { kind: 'absent' }, transTime: '' });
    expect(minimal.ok && minimal.transactedAt).toBeFalsy();
  });

  it.each([
    ['not an object', 'x'],
    ['no TransID', { ...base, TransID: undefined }],
    ['a TransID with symbols', { ...base, TransID: 'RK<script>' }],
    ['no amount', { ...base, TransAmount: undefined }],
    ['a negative amount', { ...base, TransAmount: '-10' }],
    ['a zero amount', { ...base, TransAmount: '0' }],
    ['an amount with words', { ...base, TransAmount: '10 KES' }],
    ['no shortcode', { ...base, BusinessShortCode: '' }],
  ])('refuses %s', (_, body) => {
    expect(parseC2bNotification(body).ok).toBe(false);
  });
});

describe('amounts, times and replies', () => {
  it('converts amounts to cents exactly', () => {
    expect(amountToMinor(1)).toBe(100);
    expect(amountToMinor(1.0)).toBe(100);
    expect(amountToMinor('1.00')).toBe(100);
    expect(amountToMinor('49197.5')).toBe(4919750);
    expect(amountToMinor(0.1 + 0.2)).toBe(30);
    expect(amountToMinor(250000)).toBe(25000000);
    for (const bad of [0, -1, '1.001', '', ' ', '1,000', Infinity, NaN, null, {}, '0x10'])
      expect(amountToMinor(bad)).toBeUndefined();
  });

  it('reads Nairobi timestamps and refuses impossible ones', () => {
    expect(nairobiTimestampToDate('20260101000000')).toEqual(new Date('2025-12-31T21:00:00Z'));
    expect(nairobiTimestampToDate(20191219102115)).toEqual(new Date('2019-12-19T07:21:15Z'));
    for (const bad of ['20261301000000', '20260230000000', '20260101250000', '2026010100000', 'x', undefined])
      expect(nairobiTimestampToDate(bad)).toBeUndefined();
  });

  it('answers Daraja in its own shapes', () => {
    expect(STK_CALLBACK_ACK).toEqual({ ResultCode: 0, ResultDesc: 'Accepted' });
    expect(C2B_CONFIRMATION_ACK).toEqual({ ResultCode: 0, ResultDesc: 'Success' });
    expect(C2B_VALIDATION_ACCEPT).toEqual({ ResultCode: '0', ResultDesc: 'Accepted' });
    expect(c2bValidationReject('msisdn')).toEqual({ ResultCode: 'C2B00011', ResultDesc: 'Rejected' });
    expect(c2bValidationReject('account')).toEqual({ ResultCode: 'C2B00012', ResultDesc: 'Rejected' });
    expect(c2bValidationReject('amount').ResultCode).toBe('C2B00013');
    expect(c2bValidationReject('kyc').ResultCode).toBe('C2B00014');
    expect(c2bValidationReject('shortcode').ResultCode).toBe('C2B00015');
    expect(c2bValidationReject('other').ResultCode).toBe('C2B00016');
  });
});
