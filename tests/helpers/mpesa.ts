/** Daraja-shaped bodies for tests that play Daraja's side of a callback (reference/protocols.md 3.3, 3.5). */
import { randomBytes } from 'node:crypto';

export const receiptCode = () => `T${randomBytes(5).toString('hex').toUpperCase().slice(0, 9)}`;
export const checkoutId = () => `ws_CO_${Date.now()}${randomBytes(4).toString('hex')}`;

/**
 * Daraja stamps callbacks with the payment's Nairobi wall-clock time, yyyyMMddHHmmss.
 * Tests send the current time, as Daraja would: a fixed date made "today's" reports
 * empty on every later day.
 */
export function darajaNow(now = new Date()): string {
  const eat = new Date(now.getTime() + 3 * 3600_000); // Africa/Nairobi is UTC+3 all year
  return eat.toISOString().slice(0, 19).replace(/[-T:]/g, '');
}

export function stkSuccess(o: {
  checkoutRequestId: string;
  merchantRequestId?: string;
  amountKes: number;
  receipt: string;
  phone: string | number;
}) {
  return {
    Body: {
      stkCallback: {
        MerchantRequestID: o.merchantRequestId ?? '29115-34620561-1',
        CheckoutRequestID: o.checkoutRequestId,
        ResultCode: 0,
        ResultDesc: 'The service request is processed successfully.',
        CallbackMetadata: {
          Item: [
            { Name: 'Amount', Value: o.amountKes },
            { Name: 'MpesaReceiptNumber', Value: o.receipt },
            { Name: 'Balance' },
            { Name: 'TransactionDate', Value: Number(darajaNow()) },
            { Name: 'PhoneNumber', Value: Number(o.phone) },
          ],
        },
      },
    },
  };
}

export function stkFailure(o: {
  checkoutRequestId: string;
  merchantRequestId?: string;
  code: number | string;
  desc?: string;
}) {
  return {
    Body: {
      stkCallback: {
        MerchantRequestID: o.merchantRequestId ?? '29115-34620561-1',
        CheckoutRequestID: o.checkoutRequestId,
        ResultCode: o.code,
        ResultDesc: o.desc ?? 'Request cancelled by user',
      },
    },
  };
}

export function c2bBody(o: {
  transId: string;
  amountKes: number | string;
  shortcode: string;
  billRef?: string;
  msisdn: string;
}) {
  return {
    TransactionType: 'Pay Bill',
    TransID: o.transId,
    TransTime: darajaNow(),
    TransAmount: String(o.amountKes),
    BusinessShortCode: o.shortcode,
    BillRefNumber: o.billRef ?? '',
    InvoiceNumber: '',
    OrgAccountBalance: '49197.00',
    ThirdPartyTransID: '',
    MSISDN: o.msisdn,
    FirstName: 'John',
    MiddleName: '',
    LastName: 'Doe',
  };
}
