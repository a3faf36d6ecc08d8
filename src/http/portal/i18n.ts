/**
 * The portal's words in English and Swahili. The language comes from the `lang` cookie (set by
 * the switch on every page), else the browser's Accept-Language (sw before en when it prefers
 * Swahili), else English.
 */
import type { Request } from 'express';
import { cookie } from '../middleware/cookies';

export type Lang = 'en' | 'sw';
export const LANG_COOKIE = 'lango_lang';

const EN = {
  choose: 'Choose a package',
  none: 'No packages are on sale right now.',
  unlimited: 'unlimited data',
  fullSpeed: 'full speed',
  buy: 'Pay with M-Pesa',
  phone: 'M-Pesa phone number',
  voucher: 'Have a voucher?',
  code: 'Voucher code',
  useVoucher: 'Connect',
  paid: 'Already paid?',
  paidHelp: 'Enter the phone you paid with and the M-Pesa code from the SMS (e.g. QJK3ABC12D).',
  receipt: 'M-Pesa code',
  restore: 'Restore my access',
  claimedOk: 'Payment found: your package is on. Connecting you…',
  restoredOk: 'Your package is back on this device. Connecting you…',
  trial: 'Free trial',
  trialHelp: 'Try the internet free, once per device and phone.',
  tryFree: 'Start free trial',
  trialOk: 'Your free trial has started. Connecting you…',
  notOnWifi: 'Connect to this WiFi network and open any website: you will come back here to log in.',
  connecting: 'Connecting you…',
  connectingHelp: 'One moment: your device is being logged in.',
  connectNow: 'Connect now',
  waiting: 'Check your phone',
  waitingHelp: 'Enter your M-Pesa PIN on your phone to pay. This page updates by itself.',
  paidOk: 'Payment received. Connecting you…',
  cancelled: 'You cancelled the payment on your phone. Try again when you are ready.',
  wrongPin: 'The M-Pesa PIN was wrong. Try again.',
  timeout: 'Your phone did not answer in time (it may be off or out of network). Try again.',
  insufficient: 'Not enough money in M-Pesa for this package.',
  failed: 'The payment did not go through.',
  fallback: 'You can also pay from the M-Pesa menu:',
  paybill: 'Paybill',
  till: 'Buy Goods till',
  account: 'Account',
  thenPaid: 'then use "Already paid?" with the M-Pesa code.',
  tryAgain: 'Back to packages',
  error: 'Something went wrong',
  help: 'Help',
  day: ['day', 'days'],
  hour: ['hour', 'hours'],
  minute: ['minute', 'minutes'],
} as const;

type Words = { [K in keyof typeof EN]: (typeof EN)[K] extends readonly string[] ? readonly [string, string] : string };

const SW: Words = {
  choose: 'Chagua kifurushi',
  none: 'Hakuna vifurushi vinavyouzwa sasa hivi.',
  unlimited: 'data bila kikomo',
  fullSpeed: 'kasi kamili',
  buy: 'Lipa kwa M-Pesa',
  phone: 'Nambari ya simu ya M-Pesa',
  voucher: 'Una vocha?',
  code: 'Nambari ya vocha',
  useVoucher: 'Unganisha',
  paid: 'Umeshalipa?',
  paidHelp: 'Weka simu uliyolipia na nambari ya M-Pesa kutoka kwenye SMS (mfano QJK3ABC12D).',
  receipt: 'Nambari ya M-Pesa',
  restore: 'Rudisha huduma yangu',
  claimedOk: 'Malipo yamepatikana: kifurushi chako kimewashwa. Tunakuunganisha…',
  restoredOk: 'Kifurushi chako kimerudi kwenye kifaa hiki. Tunakuunganisha…',
  trial: 'Jaribio la bure',
  trialHelp: 'Jaribu intaneti bure, mara moja kwa kila kifaa na simu.',
  tryFree: 'Anza jaribio la bure',
  trialOk: 'Jaribio lako la bure limeanza. Tunakuunganisha…',
  notOnWifi: 'Unganisha kwenye mtandao huu wa WiFi kisha fungua tovuti yoyote: utarudi hapa kuingia.',
  connecting: 'Tunakuunganisha…',
  connectingHelp: 'Subiri kidogo: kifaa chako kinaingizwa.',
  connectNow: 'Unganisha sasa',
  waiting: 'Angalia simu yako',
  waitingHelp: 'Weka PIN yako ya M-Pesa kwenye simu ili ulipe. Ukurasa huu unajisasisha wenyewe.',
  paidOk: 'Malipo yamepokelewa. Tunakuunganisha…',
  cancelled: 'Umesitisha malipo kwenye simu yako. Jaribu tena ukiwa tayari.',
  wrongPin: 'PIN ya M-Pesa haikuwa sahihi. Jaribu tena.',
  timeout: 'Simu yako haikujibu kwa wakati (huenda imezimwa au haina mtandao). Jaribu tena.',
  insufficient: 'Hakuna pesa za kutosha kwenye M-Pesa kwa kifurushi hiki.',
  failed: 'Malipo hayakufanikiwa.',
  fallback: 'Unaweza pia kulipa kupitia menyu ya M-Pesa:',
  paybill: 'Paybill',
  till: 'Till ya Buy Goods',
  account: 'Akaunti',
  thenPaid: 'kisha tumia "Umeshalipa?" na nambari ya M-Pesa.',
  tryAgain: 'Rudi kwenye vifurushi',
  error: 'Hitilafu imetokea',
  help: 'Msaada',
  day: ['siku', 'siku'],
  hour: ['saa', 'masaa'],
  minute: ['dakika', 'dakika'],
};

export const WORDS: Record<Lang, Words> = { en: EN as unknown as Words, sw: SW };

export function isLang(s: unknown): s is Lang {
  return s === 'en' || s === 'sw';
}

/** The language of this request: ?lang, the cookie, then Accept-Language. */
export function pickLang(req: Request): Lang {
  const q = req.query.lang;
  if (isLang(q)) return q;
  const c = cookie(req, LANG_COOKIE);
  if (isLang(c)) return c;
  return req.acceptsLanguages('sw', 'en') === 'sw' ? 'sw' : 'en';
}

export function duration(w: Words, seconds: number): string {
  const units: Array<[number, readonly [string, string]]> = [
    [86400, w.day],
    [3600, w.hour],
    [60, w.minute],
  ];
  for (const [n, name] of units) if (seconds % n === 0) return `${seconds / n} ${name[seconds / n === 1 ? 0 : 1]}`;
  return `${Math.round(seconds / 60)} ${w.minute[1]}`;
}

export function dataAllowance(w: Words, bytes: number | null): string {
  if (bytes === null) return w.unlimited;
  const gb = bytes / 1024 ** 3;
  return gb >= 1 ? `${Number(gb.toFixed(2))} GB` : `${Number((bytes / 1024 ** 2).toFixed(1))} MB`;
}
