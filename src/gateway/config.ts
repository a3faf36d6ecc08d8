/**
 * `lango gateway --config FILE`: the gateway's settings, a JSON file validated against this
 * schema (unknown fields refused, defaults filled in). The file holds the RADIUS secret; it has
 * no default.
 */
import { readFile } from 'node:fs/promises';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { Defaulted, Enum, Obj, Str, Type, type Static } from '../lib/schema';

const Port = Type.Integer({ minimum: 1, maximum: 65535 });
const Ipv4 = Type.String({ format: 'ipv4' });
const Iface = Type.String({ pattern: '^[A-Za-z0-9_.-]{1,15}$' });
/** An IPv4 address, a CIDR network or a DNS name. */
const GardenEntry = Type.String({
  maxLength: 253,
  pattern:
    '^((\\d{1,3}\\.){3}\\d{1,3}(/\\d{1,2})?|([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)*[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)$',
});

export const GatewayConfigSchema = Obj({
  /** The hotspot side (a bridge such as br-lan) and the uplink. */
  lanInterface: Iface,
  wanInterface: Iface,
  /** The clients' network, e.g. 10.5.50.0/24. */
  lanSubnet: Type.String({ pattern: '^(\\d{1,3}\\.){3}\\d{1,3}/\\d{1,2}$' }),
  /** NAS-IP-Address: the gateway's address as FreeRADIUS sees it (and the NAS row in Lango). */
  nasIpAddress: Ipv4,
  nasIdentifier: Str(64),
  /** Called-Station-Id; default the NAS-Identifier. */
  calledStationId: Type.Optional(Str(64)),
  radius: Obj({
    /** Primary first; the others are tried in order when it does not answer. */
    servers: Type.Array(Obj({ host: Str(253), authPort: Defaulted(Port), acctPort: Defaulted(Port) }), {
      minItems: 1,
      maxItems: 4,
    }),
    secret: Type.String({ minLength: 8, maxLength: 128 }),
    /** Source address of RADIUS requests (default: the kernel's choice). */
    bindAddress: Type.Optional(Ipv4),
    /** Delays (ms) between transmissions of one request to one server. */
    retransmit: Defaulted(Type.Array(Type.Integer({ minimum: 50, maximum: 60000 }), { minItems: 1, maxItems: 10 })),
  }),
  coa: Defaulted(
    Obj({
      host: Defaulted(Ipv4),
      port: Defaulted(Port),
      /** Default radius.secret. */
      secret: Type.Optional(Type.String({ minLength: 8, maxLength: 128 })),
      requireMessageAuthenticator: Defaulted(Type.Boolean()),
    }),
  ),
  portal: Obj({
    /** The captive portal's address (walled garden, redirect target). */
    url: Type.String({ format: 'uri', maxLength: 2048 }),
    /** link-login-only in the redirect to the portal (where the portal's page posts the login);
     *  default http://<the gateway address the client reached>:<port>/login. Its host must be
     *  one of the tenant's NAS addresses or portal hotspot DNS names. */
    loginUrl: Type.Optional(Type.String({ format: 'uri', maxLength: 512 })),
    /** Where the login endpoint listens. */
    host: Defaulted(Ipv4),
    port: Defaulted(Port),
    passwordMethod: Defaulted(Enum(['pap', 'chap'] as const)),
    /** Development only: X-Client-IP / X-Client-MAC name the client (pretend clients). */
    trustClientHeaders: Defaulted(Type.Boolean()),
  }),
  driver: Enum(['memory', 'nftables'] as const),
  /** Reachable before login: IPv4 addresses, CIDR networks or DNS names (resolved by the
   *  gateway, src/gateway/garden.ts); the portal's host is added. */
  walledGarden: Defaulted(Type.Array(GardenEntry, { maxItems: 1000 })),
  /** How often names in the walled garden are resolved again (sooner when their TTL is shorter). */
  walledGardenRefreshSeconds: Defaulted(Type.Integer({ minimum: 30, maximum: 86400 })),
  checkIntervalMs: Defaulted(Type.Integer({ minimum: 100, maximum: 60000 })),
});

export type GatewayConfig = Static<typeof GatewayConfigSchema>;

const DEFAULTS = {
  radius: { authPort: 1812, acctPort: 1813, retransmit: [2000, 2000, 2000] },
  coa: { host: '0.0.0.0', port: 3799, requireMessageAuthenticator: false },
  portal: { host: '0.0.0.0', port: 8002, passwordMethod: 'pap', trustClientHeaders: false },
};

export class GatewayConfigError extends Error {}

/** Validate a parsed config object; throws GatewayConfigError naming the first bad field. */
export function parseGatewayConfig(input: unknown): GatewayConfig {
  const ajv = new Ajv({ allErrors: false, useDefaults: false, strict: false });
  addFormats(ajv);
  const validate = ajv.compile(GatewayConfigSchema);
  if (!validate(input)) {
    const e = validate.errors?.[0];
    throw new GatewayConfigError(
      `gateway config: ${e?.instancePath || '/'} ${e?.message ?? 'is invalid'}${e?.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`,
    );
  }
  const c = input as GatewayConfig;
  return {
    ...c,
    radius: {
      ...c.radius,
      retransmit: c.radius.retransmit ?? DEFAULTS.radius.retransmit,
      servers: c.radius.servers.map((s) => ({
        host: s.host,
        authPort: s.authPort ?? DEFAULTS.radius.authPort,
        acctPort: s.acctPort ?? DEFAULTS.radius.acctPort,
      })),
    },
    coa: {
      ...(c.coa?.secret !== undefined ? { secret: c.coa.secret } : {}),
      host: c.coa?.host ?? DEFAULTS.coa.host,
      port: c.coa?.port ?? DEFAULTS.coa.port,
      requireMessageAuthenticator: c.coa?.requireMessageAuthenticator ?? DEFAULTS.coa.requireMessageAuthenticator,
    },
    portal: {
      url: c.portal.url,
      ...(c.portal.loginUrl !== undefined ? { loginUrl: c.portal.loginUrl } : {}),
      host: c.portal.host ?? DEFAULTS.portal.host,
      port: c.portal.port ?? DEFAULTS.portal.port,
      passwordMethod: c.portal.passwordMethod ?? 'pap',
      trustClientHeaders: c.portal.trustClientHeaders ?? false,
    },
    walledGarden: c.walledGarden ?? [],
    walledGardenRefreshSeconds: c.walledGardenRefreshSeconds ?? 300,
    checkIntervalMs: c.checkIntervalMs ?? 1000,
  };
}

export async function loadGatewayConfig(file: string): Promise<GatewayConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new GatewayConfigError(`cannot read ${file}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new GatewayConfigError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  return parseGatewayConfig(parsed);
}
