import {
  Type,
  Obj,
  Str,
  Nullable,
  Enum,
  IpAddress,
  Ipv4,
  Ipv6,
  Hostname,
  Instant,
  PageQuery,
  Defaulted,
  type Static,
} from '../../lib/schema';

const Kind = Enum(['mikrotik', 'gateway', 'other'] as const);

const NasFields = {
  name: Str(64),
  address: IpAddress,
  identifier: Nullable(Str(253)),
  secret: Type.String({ minLength: 6, maxLength: 128, pattern: '^[\\x21-\\x7e]+$' }),
  kind: Kind,
  coaPort: Type.Integer({ minimum: 1, maximum: 65535 }),
  description: Nullable(Str(500, 0)),
  /**
   * Drop Access-Requests without a Message-Authenticator (default true). Off only for NAS that
   * cannot send one (RouterOS before 7.15): without it, anyone who can send from the NAS's
   * address can guess CHAP/MS-CHAP passwords without knowing the secret.
   */
  requireMessageAuthenticator: Type.Boolean(),
};

/**
 * RouterOS API access for session lists and the fallback kick. Write-only credentials (the view
 * says only whether they are configured); RouterOS allows an empty password (the factory admin
 * has one), so the schema does too. `port` defaults to the RouterOS default for the transport:
 * 8728, or 8729 with tls.
 */
const RouterOsApiFields = {
  username: Str(64),
  password: Str(128, 0),
  port: Type.Integer({ minimum: 1, maximum: 65535 }),
  tls: Type.Boolean(),
};
export const RouterOsApiPatch = Obj({
  username: Type.Optional(RouterOsApiFields.username),
  password: Type.Optional(RouterOsApiFields.password),
  port: Type.Optional(RouterOsApiFields.port),
  tls: Type.Optional(RouterOsApiFields.tls),
});
export type RouterOsApiInput = Static<typeof RouterOsApiPatch>;

export const CreateNas = Obj({
  name: NasFields.name,
  address: NasFields.address,
  identifier: Type.Optional(NasFields.identifier),
  secret: NasFields.secret,
  kind: Type.Optional(NasFields.kind),
  coaPort: Type.Optional(NasFields.coaPort),
  description: Type.Optional(NasFields.description),
  requireMessageAuthenticator: Type.Optional(NasFields.requireMessageAuthenticator),
  /** null removes API access. */
  routerOsApi: Type.Optional(
    Nullable(
      Obj({
        ...RouterOsApiFields,
        port: Type.Optional(RouterOsApiFields.port),
        tls: Type.Optional(RouterOsApiFields.tls),
      }),
    ),
  ),
});
export type CreateNas = Static<typeof CreateNas>;

export const NasPatch = Obj({
  name: Type.Optional(NasFields.name),
  address: Type.Optional(NasFields.address),
  identifier: Type.Optional(NasFields.identifier),
  secret: Type.Optional(NasFields.secret),
  kind: Type.Optional(NasFields.kind),
  coaPort: Type.Optional(NasFields.coaPort),
  description: Type.Optional(NasFields.description),
  requireMessageAuthenticator: Type.Optional(NasFields.requireMessageAuthenticator),
  routerOsApi: Type.Optional(Nullable(RouterOsApiPatch)),
});
export type NasPatch = Static<typeof NasPatch>;

export const NasQuery = Obj({ ...PageQuery, kind: Type.Optional(Kind), address: Type.Optional(IpAddress) });
export type NasQuery = Static<typeof NasQuery>;

export const MikrotikScriptQuery = Obj({
  radiusServer: Type.Optional(Type.String({ maxLength: 253, anyOf: [Ipv4, Ipv6, Hostname] })),
  // The soft-block redirect is an IPv4 dst-nat: the portal is a name or an IPv4 address.
  portalHost: Type.Optional(Type.String({ maxLength: 253, anyOf: [Ipv4, Hostname] })),
  hotspotProfile: Defaulted(
    Type.String({ minLength: 1, maxLength: 64, pattern: '^[\\x20-\\x7e]+$', default: 'hsprof1' }),
  ),
  services: Defaulted(Type.String({ pattern: '^(hotspot|ppp)(,(hotspot|ppp))?$', default: 'hotspot,ppp' })),
});
export type MikrotikScriptQuery = Static<typeof MikrotikScriptQuery>;

export const NasView = Obj({
  id: Type.String(),
  name: Type.String(),
  address: Type.String(),
  identifier: Nullable(Type.String()),
  kind: Type.String(),
  coaPort: Type.Integer(),
  description: Nullable(Type.String()),
  /** Whether Lango can reach the router's API; the credentials themselves are never returned. */
  routerOsApi: Obj({ configured: Type.Boolean(), port: Type.Integer(), tls: Type.Boolean() }),
  requireMessageAuthenticator: Type.Boolean(),
  /** active: FreeRADIUS admits the address; pending_approval: waiting for a platform admin. */
  status: Enum(['active', 'pending_approval'] as const),
  /** Things the operator should know about this NAS's settings. */
  warnings: Type.Array(Type.String()),
  createdAt: Instant,
  updatedAt: Instant,
});
export type NasView = Static<typeof NasView>;

export const PendingNasView = Obj({ ...NasView.properties, tenantId: Type.String(), tenantName: Type.String() });
export type PendingNasView = Static<typeof PendingNasView>;
