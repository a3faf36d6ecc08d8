/** Who is calling: staff roles, the principal a credential resolves to, and its actor. */
import type { Actor } from '../audit/actor';

export type Role = 'platform_admin' | 'tenant_admin' | 'tenant_operator';

/** The role groups routes allow. */
export const ROLES = {
  platform: ['platform_admin'] as Role[],
  admin: ['platform_admin', 'tenant_admin'] as Role[],
  staff: ['platform_admin', 'tenant_admin', 'tenant_operator'] as Role[],
};

export interface Principal {
  kind: 'user' | 'api_key';
  id: string;
  role: Role;
  /** The user's or key's own tenant; null for a platform admin. */
  tenantId: string | null;
}

/** A platform admin (no tenant of its own) acts as 'platform': tenants never see its id. */
export const actorOf = (p: Principal): Actor => ({
  type: p.kind === 'user' && p.tenantId === null ? 'platform' : p.kind,
  id: p.id,
});
