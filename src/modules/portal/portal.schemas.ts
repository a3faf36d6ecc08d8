import { Type, Obj, Str, Nullable, Hostname, Uuid, type Static } from '../../lib/schema';

const Color = Type.String({ pattern: '^#[0-9a-fA-F]{6}$' });
const ShortCode = Type.String({ pattern: '^[0-9]{5,7}$' });

/** What the buyer sees of a tenant, and where its routers may send them from. */
export const PortalSettingsView = Obj({
  /** Shown instead of the tenant's name (null: the tenant's name). */
  displayName: Nullable(Type.String()),
  /** The logo (PNG/JPEG/WebP, at most 200 KB), served at /portal/<slug>/logo?v=<version>. */
  logo: Nullable(Obj({ contentType: Type.String(), bytes: Type.Integer(), version: Type.String() })),
  primaryColor: Type.String(),
  backgroundColor: Type.String(),
  /** Host names a router's link-login-only may carry besides the tenant's NAS addresses. */
  hotspotDnsNames: Type.Array(Type.String()),
  /** Paybill or till shown as the fallback when an STK push does not reach the phone. */
  paybill: Nullable(Type.String()),
  till: Nullable(Type.String()),
  supportPhone: Nullable(Type.String()),
  /** The plan of the free trial (null: no trial, the default). */
  trialPlanId: Nullable(Type.String()),
  /** A device and a phone each get one trial per this many hours. */
  trialPeriodHours: Type.Integer(),
});
export type PortalSettingsView = Static<typeof PortalSettingsView>;

export const PortalSettingsPatch = Obj({
  displayName: Type.Optional(Nullable(Str(80))),
  /**
   * A new logo as a data: URL (PNG, JPEG or WebP by its bytes, at most 200 KB; the JSON body's
   * 256 KB limit keeps this way to about 190 KB, the dashboard's upload takes the full 200 KB), or
   * null to remove it.
   */
  logoDataUrl: Type.Optional(
    Nullable(Type.String({ maxLength: 262144, pattern: '^data:image/(png|jpeg|webp);base64,[A-Za-z0-9+/]+={0,2}$' })),
  ),
  primaryColor: Type.Optional(Color),
  backgroundColor: Type.Optional(Color),
  hotspotDnsNames: Type.Optional(
    Type.Array(Type.String({ ...Hostname, maxLength: 253 }), { maxItems: 20, uniqueItems: true }),
  ),
  paybill: Type.Optional(Nullable(ShortCode)),
  till: Type.Optional(Nullable(ShortCode)),
  supportPhone: Type.Optional(Nullable(Type.String({ pattern: '^\\+?[0-9]{9,15}$' }))),
  trialPlanId: Type.Optional(Nullable(Uuid)),
  trialPeriodHours: Type.Optional(Type.Integer({ minimum: 1, maximum: 8760 })),
});
export type PortalSettingsPatch = Static<typeof PortalSettingsPatch>;

/**
 * The query of the router's redirect (mikrotik/hotspot/login.html): strings of bounded length;
 * the service checks what each must be (router-context.ts), so a tampered value gets its own
 * message.
 */
export const RouterRedirect = Obj(
  {
    'link-login-only': Type.Optional(Type.String({ maxLength: 512 })),
    'link-orig': Type.Optional(Type.String({ maxLength: 1024 })),
    mac: Type.Optional(Type.String({ maxLength: 32 })),
    ip: Type.Optional(Type.String({ maxLength: 45 })),
    'chap-id': Type.Optional(Type.String({ maxLength: 16 })),
    'chap-challenge': Type.Optional(Type.String({ maxLength: 256 })),
    lang: Type.Optional(Type.String({ maxLength: 8 })),
    error: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: true },
);
export type RouterRedirect = Static<typeof RouterRedirect>;

/** A device behind a router, as the validated redirect described it. */
export interface RouterContext {
  /** The router's login URL (the page posts the CHAP login there). */
  loginUrl: string;
  mac: string;
  ip: string;
  /** Octal-escaped, as the router gave them (MikroTik's $(chap-id), $(chap-challenge)). */
  chapId: string;
  chapChallenge: string;
  /** Where the buyer was going (sent to the router as dst). */
  dst: string | null;
}

export const VoucherEntry = Obj({ code: Str(64), _csrf: Str(100) }, { additionalProperties: true });

export const PayEntry = Obj(
  { planId: Type.String({ maxLength: 36 }), phone: Type.String({ minLength: 1, maxLength: 20 }), _csrf: Str(100) },
  { additionalProperties: true },
);

/** "Already paid": the phone that paid and the M-Pesa receipt code from its SMS. */
export const PaidEntry = Obj(
  { phone: Type.String({ minLength: 1, maxLength: 20 }), receipt: Str(20), _csrf: Str(100) },
  { additionalProperties: true },
);

export const TrialEntry = Obj(
  { phone: Type.String({ minLength: 1, maxLength: 20 }), _csrf: Str(100) },
  { additionalProperties: true },
);
