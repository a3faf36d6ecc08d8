import { isIP } from 'node:net';
import type { Knex } from 'knex';
import { AppError } from '../../lib/errors';
import { withTransaction } from '../../db/knex';
import { paginate, type Page } from '../../lib/pagination';
import { iso } from '../../lib/time';
import { renderMikrotikScript, type ScriptService } from '../../mikrotik/script';
import type { TargetGuard } from '../../config/networks';
import { audit } from '../audit/audit.repo';
import type { Actor } from '../audit/actor';
import {
  deleteNas,
  findNas,
  findNasById,
  findTenantName,
  insertNas,
  lockAddress,
  nasAtAddress,
  nasQuery,
  pendingApprovalsQuery,
  updateNas,
  type NasRow,
} from './nas.repo';
import type { CreateNas, NasPatch, NasQuery, NasView, PendingNasView, RouterOsApiInput } from './nas.schemas';

/**
 * The address in the text form FreeRADIUS prints for Packet-Src-IP(v6)-Address. isIP takes an
 * IPv6 zone id (fe80::1%eth0), which neither URL nor inet does, and which means nothing for a
 * NAS that must be reachable from FreeRADIUS: refused.
 */
export function canonicalAddress(a: string, path = 'body.address'): string {
  const v = a.includes('%') ? 0 : isIP(a);
  if (v === 4)
    return a
      .split('.')
      .map((o) => String(Number(o)))
      .join('.');
  if (v === 6) return new URL(`http://[${a}]`).hostname.slice(1, -1);
  throw new AppError('VALIDATION_FAILED', 'address must be an IPv4 or IPv6 address without a zone id', {
    errors: [{ path, message: 'not an IP address' }],
  });
}

/**
 * The worker sends CoA/Disconnect and RouterOS API requests to a NAS's address: it must be one
 * the operator allows (LANGO_ENFORCEMENT_TARGET_NETWORKS), never loopback in production,
 * link-local (cloud metadata) or multicast. The worker checks again before sending.
 */
function allowedAddress(guard: TargetGuard, address: string): string {
  const refused = guard.refusal(address);
  if (refused !== null) {
    throw new AppError('VALIDATION_FAILED', `address ${address} cannot be a NAS: ${refused}`, {
      errors: [{ path: 'body.address', message: `not allowed: ${refused}` }],
    });
  }
  return address;
}

/**
 * Who admits a NAS address: `auto` (development and single-operator installs: a NAS works as
 * soon as it is added, and an address another tenant uses is refused) or `platform` (a platform
 * admin approves each new or changed address; until then FreeRADIUS ignores it, and a tenant is
 * never told that another tenant uses an address).
 */
export type NasApproval = 'auto' | 'platform';

export const MESSAGE_AUTHENTICATOR_WARNING =
  'Message-Authenticator is not required for this NAS: anyone who can send packets from its address can guess ' +
  'CHAP and MS-CHAP passwords without knowing the secret. Turn the requirement off only for NAS that cannot send it ' +
  '(RouterOS before 7.15).';

export interface MikrotikScriptOptions {
  /** Address the router uses to reach FreeRADIUS (IP or DNS name). */
  radiusServer: string;
  authPort: number;
  acctPort: number;
  services: readonly ScriptService[];
  hotspotProfile: string;
  portalHost: string | null;
}

const notFound = () => new AppError('NAS_NOT_FOUND', 'NAS not found');

const API_PORT = 8728;
const API_TLS_PORT = 8729;

/** The secret and the API credentials are write-only through the API: they are never returned. */
function nasView(r: NasRow): NasView {
  return {
    id: r.id,
    name: r.shortname,
    address: r.nasname,
    identifier: r.identifier,
    kind: r.kind,
    coaPort: r.coa_port,
    description: r.description,
    routerOsApi: { configured: r.api_username !== null && r.api_password !== null, port: r.api_port, tls: r.api_tls },
    requireMessageAuthenticator: r.require_message_authenticator,
    status: r.approved_at ? 'active' : 'pending_approval',
    warnings: r.require_message_authenticator ? [] : [MESSAGE_AUTHENTICATOR_WARNING],
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  };
}

/**
 * NAS devices are rows of FreeRADIUS's nas table, read at run time through dynamic clients
 * (freeradius/sites-available/dynamic-clients). A NAS is found by the source address of its
 * packets; several NAS may share an address (behind NAT or a VPN concentrator) when each has a
 * NAS-Identifier. Because FreeRADIUS picks the secret by address alone, NAS sharing an address
 * must belong to one tenant and share one secret.
 */
export class NasService {
  private readonly db: Knex;
  private readonly targets: TargetGuard;
  private readonly approval: NasApproval;

  constructor(deps: { db: Knex; targets: TargetGuard; approval?: NasApproval }) {
    this.db = deps.db;
    this.targets = deps.targets;
    this.approval = deps.approval ?? 'auto';
  }

  async get(tenantId: string, id: string): Promise<NasView> {
    const r = await findNas(this.db, tenantId, id);
    if (!r) throw notFound();
    return nasView(r);
  }

  /**
   * The RouterOS provisioning script for a NAS (mikrotik/lango.rsc.tmpl). It carries the RADIUS
   * secret, so every rendering is audited (in the transaction that read it).
   */
  async mikrotikScript(actor: Actor, tenantId: string, id: string, opts: MikrotikScriptOptions): Promise<string> {
    return withTransaction(this.db, async (trx) => {
      const r = await findNas(trx, tenantId, id);
      if (!r) throw notFound();
      if (r.kind === 'gateway')
        throw new AppError('INVALID_STATE', 'this NAS is a Lango gateway, not a MikroTik router');
      const tenant = await findTenantName(trx, tenantId);
      if (!tenant) throw notFound();
      const script = renderMikrotikScript({
        nas: {
          id: r.id,
          name: r.shortname,
          address: r.nasname,
          identifier: r.identifier,
          secret: r.secret,
          coaPort: r.coa_port,
          apiPort: r.api_port,
          apiTls: r.api_tls,
          apiUsername: r.api_username,
        },
        tenant: { name: tenant.name, slug: tenant.slug },
        radius: { server: opts.radiusServer, authPort: opts.authPort, acctPort: opts.acctPort },
        services: opts.services,
        hotspotProfile: opts.hotspotProfile,
        portalHost: opts.portalHost,
      });
      await audit(trx, {
        tenantId,
        actor,
        action: 'nas.mikrotik_script',
        entity: 'nas',
        entityId: id,
        data: {
          radiusServer: opts.radiusServer,
          services: opts.services,
          hotspotProfile: opts.hotspotProfile,
          portalHost: opts.portalHost,
        },
      });
      return script;
    });
  }

  async list(tenantId: string, q: NasQuery): Promise<Page<NasView>> {
    const address = q.address ? canonicalAddress(q.address, 'query.address') : undefined;
    return paginate(nasQuery(this.db, tenantId, { kind: q.kind, address }), q.limit, q.offset, nasView);
  }

  /**
   * The address-sharing rules, serialised per address. Within the tenant: NAS that share an
   * address need distinct identifiers and one secret. Across tenants: an approved address
   * belongs to its tenant; with `auto` approval another tenant's claim is refused at once, with
   * `platform` approval it is only checked when a platform admin approves (approve()), so a
   * tenant never learns which addresses other tenants use.
   */
  private async checkAddress(
    trx: Knex.Transaction,
    tenantId: string,
    address: string,
    identifier: string | null,
    secret: string,
    selfId: string | undefined,
    approving: boolean,
  ): Promise<void> {
    await lockAddress(trx, address);
    const others = await nasAtAddress(trx, address, selfId);
    const conflict = () =>
      new AppError(
        'NAS_ADDRESS_IN_USE',
        'another NAS uses this address; NAS that share an address need distinct identifiers, one tenant and one secret',
      );
    if (approving && others.some((o) => o.tenant_id !== tenantId && o.approved_at !== null)) throw conflict();
    const own = others.filter((o) => o.tenant_id === tenantId);
    if (own.length === 0) return;
    if (identifier === null || own.some((o) => o.identifier === null || o.identifier === identifier)) throw conflict();
    if (own.some((o) => o.secret !== secret)) {
      throw new AppError('VALIDATION_FAILED', 'NAS that share an address must use the same secret', {
        errors: [{ path: 'body.secret', message: 'must equal the secret of the other NAS at this address' }],
      });
    }
  }

  async create(actor: Actor, tenantId: string, input: CreateNas): Promise<NasView> {
    const address = allowedAddress(this.targets, canonicalAddress(input.address));
    return withTransaction(this.db, async (trx) => {
      const auto = this.approval === 'auto';
      await this.checkAddress(trx, tenantId, address, input.identifier ?? null, input.secret, undefined, auto);
      const r = await insertNas(trx, {
        tenant_id: tenantId,
        nasname: address,
        identifier: input.identifier ?? null,
        shortname: input.name,
        secret: input.secret,
        kind: input.kind ?? 'mikrotik',
        coa_port: input.coaPort ?? 3799,
        description: input.description ?? null,
        require_message_authenticator: input.requireMessageAuthenticator ?? true,
        approved_at: auto ? trx.fn.now() : null,
        ...apiColumns(input.routerOsApi ?? null, null),
      });
      await audit(trx, {
        tenantId,
        actor,
        action: 'nas.create',
        entity: 'nas',
        entityId: r.id,
        data: { address, identifier: input.identifier ?? null, routerOsApi: apiAudit(input.routerOsApi) },
      });
      return nasView(r);
    });
  }

  async update(actor: Actor, tenantId: string, id: string, patch: NasPatch): Promise<NasView> {
    return withTransaction(this.db, async (trx) => {
      const cur = await findNas(trx, tenantId, id);
      if (!cur) throw notFound();
      // An unchanged address is not re-checked (the worker refuses it if the networks changed).
      const address =
        patch.address !== undefined ? allowedAddress(this.targets, canonicalAddress(patch.address)) : cur.nasname;
      const identifier = patch.identifier !== undefined ? patch.identifier : cur.identifier;
      const secret = patch.secret ?? cur.secret;
      // A new address needs approval again (else a tenant could have one address approved and
      // move the NAS to another).
      const moved = address !== cur.nasname || (identifier ?? null) !== (cur.identifier ?? null);
      const auto = this.approval === 'auto';
      await this.checkAddress(trx, tenantId, address, identifier, secret, id, auto && moved);
      const row: Record<string, unknown> = { nasname: address, identifier, secret, updated_at: trx.fn.now() };
      if (moved) row.approved_at = auto ? trx.fn.now() : null;
      if (patch.requireMessageAuthenticator !== undefined)
        row.require_message_authenticator = patch.requireMessageAuthenticator;
      if (patch.name !== undefined) row.shortname = patch.name;
      if (patch.kind !== undefined) row.kind = patch.kind;
      if (patch.coaPort !== undefined) row.coa_port = patch.coaPort;
      if (patch.description !== undefined) row.description = patch.description;
      if (patch.routerOsApi !== undefined) Object.assign(row, apiColumns(patch.routerOsApi, cur));
      const r = await updateNas(trx, { tenant_id: tenantId, id }, row);
      await audit(trx, {
        tenantId,
        actor,
        action: 'nas.update',
        entity: 'nas',
        entityId: id,
        data: { ...patch, secret: patch.secret ? '[changed]' : undefined, routerOsApi: apiAudit(patch.routerOsApi) },
      });
      return nasView(r);
    });
  }

  /** NAS waiting for a platform admin's approval, across tenants (platform admins only). */
  async pendingApprovals(limit: number, offset: number): Promise<Page<PendingNasView>> {
    return paginate(pendingApprovalsQuery(this.db), limit, offset, (r: NasRow & { tenant_name: string }) => ({
      ...nasView(r),
      tenantId: r.tenant_id,
      tenantName: r.tenant_name,
    }));
  }

  /**
   * A platform admin admits a NAS address (the operator's proof that the tenant owns the router:
   * see docs/decisions.md). Refused when the address already belongs to another tenant.
   */
  async approve(actor: Actor, id: string): Promise<NasView> {
    return withTransaction(this.db, async (trx) => {
      const cur = await findNasById(trx, id);
      if (!cur) throw notFound();
      if (cur.approved_at) return nasView(cur);
      await this.checkAddress(trx, cur.tenant_id, cur.nasname, cur.identifier, cur.secret, id, true);
      const r = await updateNas(trx, { id }, { approved_at: trx.fn.now(), updated_at: trx.fn.now() });
      await audit(trx, {
        tenantId: cur.tenant_id,
        actor,
        action: 'nas.approve',
        entity: 'nas',
        entityId: id,
        data: { address: cur.nasname, identifier: cur.identifier },
      });
      return nasView(r);
    });
  }

  async remove(actor: Actor, tenantId: string, id: string): Promise<void> {
    await withTransaction(this.db, async (trx) => {
      const n = await deleteNas(trx, tenantId, id);
      if (!n) throw notFound();
      await audit(trx, {
        tenantId,
        actor,
        action: 'nas.delete',
        entity: 'nas',
        entityId: id,
        data: { address: n.nasname },
      });
    });
  }
}

interface ApiColumns {
  api_username: string | null;
  api_password: string | null;
  api_port: number;
  api_tls: boolean;
}

/**
 * The api_* columns after applying `input` to the current row (`cur`, null on create). null
 * clears the credentials and resets port and transport to the defaults.
 */
function apiColumns(
  input: RouterOsApiInput | null,
  cur: { api_username: string | null; api_password: string | null; api_port: number; api_tls: boolean } | null,
): ApiColumns {
  if (input === null) return { api_username: null, api_password: null, api_port: API_PORT, api_tls: false };
  const username = input.username ?? cur?.api_username ?? null;
  const password = input.password ?? cur?.api_password ?? null;
  if (username === null || password === null) {
    const missing = username === null ? 'username' : 'password';
    throw new AppError('VALIDATION_FAILED', 'RouterOS API access needs both a username and a password', {
      errors: [{ path: `body.routerOsApi.${missing}`, message: 'required' }],
    });
  }
  const tls = input.tls ?? cur?.api_tls ?? false;
  const transportChanged = cur === null || (input.tls !== undefined && input.tls !== cur.api_tls);
  const port = input.port ?? (transportChanged ? (tls ? API_TLS_PORT : API_PORT) : (cur?.api_port ?? API_PORT));
  return { api_username: username, api_password: password, api_port: port, api_tls: tls };
}

/** What the audit log keeps of an API credentials change: never the password. */
function apiAudit(input: RouterOsApiInput | null | undefined): Record<string, unknown> | null | undefined {
  if (input === undefined || input === null) return input;
  return {
    ...(input.username !== undefined ? { username: input.username } : {}),
    ...(input.password !== undefined ? { password: '[changed]' } : {}),
    ...(input.port !== undefined ? { port: input.port } : {}),
    ...(input.tls !== undefined ? { tls: input.tls } : {}),
  };
}
