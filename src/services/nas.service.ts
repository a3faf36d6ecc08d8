import { isIP } from 'node:net';
import type { Knex } from 'knex';
import { AppError } from '../errors';
import { Handle, withTransaction } from '../db/knex';
import { Actor, audit, paginate, Page } from './context';
import { iso } from './tenants.service';

/** The address in the text form FreeRADIUS prints for Packet-Src-IP(v6)-Address. */
export function canonicalAddress(a: string): string {
  const v = isIP(a);
  if (v === 4) return a.split('.').map((o) => String(Number(o))).join('.');
  if (v === 6) return new URL(`http://[${a}]`).hostname.slice(1, -1);
  throw new AppError('VALIDATION_FAILED', 'address must be an IPv4 or IPv6 address', { errors: [{ path: 'body.address', message: 'not an IP address' }] });
}

export interface NasInput {
  name: string;
  address: string;
  identifier?: string | null;
  secret: string;
  kind?: 'mikrotik' | 'gateway' | 'other';
  coaPort?: number;
  description?: string | null;
}

export interface NasView {
  id: string;
  name: string;
  address: string;
  identifier: string | null;
  kind: string;
  coaPort: number;
  description: string | null;
  createdAt: string;
  updatedAt: string;
}

/** The secret is write-only through the API: it is never returned. */
function nasView(r: any): NasView {
  return {
    id: r.id,
    name: r.shortname,
    address: r.nasname,
    identifier: r.identifier,
    kind: r.kind,
    coaPort: r.coa_port,
    description: r.description,
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
  constructor(private readonly db: Knex) {}

  async get(h: Handle, tenantId: string, id: string): Promise<NasView> {
    const r = await h('nas').where({ tenant_id: tenantId, id }).first();
    if (!r) throw new AppError('NAS_NOT_FOUND', 'NAS not found');
    return nasView(r);
  }

  /** For the CoA client and the MikroTik script renderer: includes the secret. */
  async getWithSecret(h: Handle, tenantId: string, id: string): Promise<NasView & { secret: string }> {
    const r = await h('nas').where({ tenant_id: tenantId, id }).first();
    if (!r) throw new AppError('NAS_NOT_FOUND', 'NAS not found');
    return { ...nasView(r), secret: r.secret };
  }

  async list(tenantId: string, q: { limit: number; offset: number; kind?: string; address?: string }): Promise<Page<NasView>> {
    const b = this.db('nas').where({ tenant_id: tenantId }).orderBy('shortname').orderBy('id');
    if (q.kind) b.andWhere({ kind: q.kind });
    if (q.address) b.andWhere({ nasname: canonicalAddress(q.address) });
    return paginate(b, q.limit, q.offset, nasView);
  }

  private async checkAddress(trx: Knex.Transaction, tenantId: string, address: string, identifier: string | null, secret: string, selfId?: string): Promise<void> {
    // Serialise writers of one address so the sharing rules hold under concurrency.
    await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`nas:${address}`]);
    const others: Array<{ tenant_id: string; identifier: string | null; secret: string }> = await trx('nas').where({ nasname: address }).modify((b) => { if (selfId) b.whereNot({ id: selfId }); });
    if (others.length === 0) return;
    const conflict = () => new AppError('NAS_ADDRESS_IN_USE', 'another NAS uses this address; NAS that share an address need distinct identifiers, one tenant and one secret');
    if (others.some((o) => o.tenant_id !== tenantId)) throw conflict();
    if (identifier === null || others.some((o) => o.identifier === null || o.identifier === identifier)) throw conflict();
    if (others.some((o) => o.secret !== secret)) {
      throw new AppError('VALIDATION_FAILED', 'NAS that share an address must use the same secret', { errors: [{ path: 'body.secret', message: 'must equal the secret of the other NAS at this address' }] });
    }
  }

  async create(actor: Actor, tenantId: string, input: NasInput): Promise<NasView> {
    const address = canonicalAddress(input.address);
    return withTransaction(this.db, async (trx) => {
      await this.checkAddress(trx, tenantId, address, input.identifier ?? null, input.secret);
      const [r] = await trx('nas')
        .insert({
          tenant_id: tenantId,
          nasname: address,
          identifier: input.identifier ?? null,
          shortname: input.name,
          secret: input.secret,
          kind: input.kind ?? 'mikrotik',
          coa_port: input.coaPort ?? 3799,
          description: input.description ?? null,
        })
        .returning('*');
      await audit(trx, { tenantId, actor, action: 'nas.create', entity: 'nas', entityId: r.id, data: { address, identifier: input.identifier ?? null } });
      return nasView(r);
    });
  }

  async update(actor: Actor, tenantId: string, id: string, patch: Partial<NasInput>): Promise<NasView> {
    return withTransaction(this.db, async (trx) => {
      const cur = await trx('nas').where({ tenant_id: tenantId, id }).first();
      if (!cur) throw new AppError('NAS_NOT_FOUND', 'NAS not found');
      const address = patch.address !== undefined ? canonicalAddress(patch.address) : cur.nasname;
      const identifier = patch.identifier !== undefined ? patch.identifier : cur.identifier;
      const secret = patch.secret ?? cur.secret;
      await this.checkAddress(trx, tenantId, address, identifier, secret, id);
      const row: Record<string, unknown> = { nasname: address, identifier, secret, updated_at: trx.fn.now() };
      if (patch.name !== undefined) row.shortname = patch.name;
      if (patch.kind !== undefined) row.kind = patch.kind;
      if (patch.coaPort !== undefined) row.coa_port = patch.coaPort;
      if (patch.description !== undefined) row.description = patch.description;
      const [r] = await trx('nas').where({ tenant_id: tenantId, id }).update(row).returning('*');
      await audit(trx, { tenantId, actor, action: 'nas.update', entity: 'nas', entityId: id, data: { ...patch, secret: patch.secret ? '[changed]' : undefined } });
      return nasView(r);
    });
  }

  async remove(actor: Actor, tenantId: string, id: string): Promise<void> {
    await withTransaction(this.db, async (trx) => {
      const n = await trx('nas').where({ tenant_id: tenantId, id }).del().returning('*');
      if (n.length === 0) throw new AppError('NAS_NOT_FOUND', 'NAS not found');
      await audit(trx, { tenantId, actor, action: 'nas.delete', entity: 'nas', entityId: id, data: { address: n[0].nasname } });
    });
  }
}
