/**
 * What the buyer is told by SMS, in the tenant's language (English or Swahili) and time zone.
 * Money is shown in major units of the tenant's currency (minor units / 100).
 */
export type Language = 'en' | 'sw';

export interface Locale {
  language: Language;
  timeZone: string;
  currency: string;
  tenantName: string;
}

/** "2 Dec 2026, 14:05" in the tenant's zone (Swahili months for sw). */
export function formatInstant(d: Date, l: Pick<Locale, 'language' | 'timeZone'>): string {
  return new Intl.DateTimeFormat(l.language === 'sw' ? 'sw-KE' : 'en-KE', {
    timeZone: l.timeZone,
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hour12: false,
  }).format(d);
}

export function formatMoney(minor: number, currency: string): string {
  const major = minor / 100;
  return `${currency} ${Number.isInteger(major) ? String(major) : major.toFixed(2)}`;
}

export function receiptMessage(
  l: Locale,
  o: { amount: number; receipt: string | null; planName: string; endsAt: Date; accountNumber: string },
): string {
  const money = formatMoney(o.amount, l.currency);
  const until = formatInstant(o.endsAt, l);
  const ref = o.receipt ? ` (${o.receipt})` : '';
  return l.language === 'sw'
    ? `${l.tenantName}: Tumepokea ${money}${ref}. Kifurushi: ${o.planName}, hadi ${until}. Akaunti: ${o.accountNumber}.`
    : `${l.tenantName}: We received ${money}${ref}. Plan: ${o.planName}, valid until ${until}. Account: ${o.accountNumber}.`;
}

export function unallocatedMessage(l: Locale, o: { amount: number; receipt: string | null }): string {
  const money = formatMoney(o.amount, l.currency);
  const ref = o.receipt ? ` (${o.receipt})` : '';
  return l.language === 'sw'
    ? `${l.tenantName}: Tumepokea ${money}${ref}. Hatukuweza kuihusisha na akaunti; wasiliana nasi na nambari ya risiti.`
    : `${l.tenantName}: We received ${money}${ref} but could not match it to an account; contact us with the receipt code.`;
}

export function credentialsMessage(
  l: Locale,
  o: { username: string; password: string; planName: string; endsAt: Date },
): string {
  const until = formatInstant(o.endsAt, l);
  return l.language === 'sw'
    ? `${l.tenantName}: Jina la mtumiaji ${o.username}, nenosiri ${o.password}. ${o.planName} hadi ${until}.`
    : `${l.tenantName}: Username ${o.username}, password ${o.password}. ${o.planName} until ${until}.`;
}

export function reminderMessage(l: Locale, o: { planName: string; endsAt: Date; accountNumber: string }): string {
  const until = formatInstant(o.endsAt, l);
  return l.language === 'sw'
    ? `${l.tenantName}: ${o.planName} yako inaisha ${until}. Lipa kwa M-Pesa, akaunti ${o.accountNumber}, kuendelea.`
    : `${l.tenantName}: your ${o.planName} ends ${until}. Pay with M-Pesa, account ${o.accountNumber}, to continue.`;
}
