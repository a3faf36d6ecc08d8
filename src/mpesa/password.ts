/**
 * The STK Password and Timestamp (reference/protocols.md 3.2): Timestamp `YYYYMMDDHHmmss` on the
 * Africa/Nairobi clock (EAT, UTC+3, no daylight saving: the time Daraja and the buyer's
 * statement use), Password `base64(BusinessShortCode + Passkey + Timestamp)`. Shared by the
 * client and the simulator, which checks it.
 */
export const DARAJA_TIME_ZONE = 'Africa/Nairobi';

const FORMAT = new Intl.DateTimeFormat('en-GB', {
  timeZone: DARAJA_TIME_ZONE,
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

/** `YYYYMMDDHHmmss` in Nairobi time. */
export function darajaTimestamp(at: Date): string {
  const parts: Record<string, string> = {};
  for (const p of FORMAT.formatToParts(at)) parts[p.type] = p.value;
  return `${parts.year}${parts.month}${parts.day}${parts.hour}${parts.minute}${parts.second}`;
}

export function stkPassword(businessShortCode: string, passkey: string, timestamp: string): string {
  return Buffer.from(`${businessShortCode}${passkey}${timestamp}`, 'utf8').toString('base64');
}
