import type { RouteRegistry } from '../registry';
import type { Services } from '../../modules/services';
import { ROLES } from '../../modules/tenancy/principals';
import { PageOf } from '../../lib/schema';
import { AuditEntryView, AuditQuery } from '../../modules/audit/audit.schemas';

export function registerAuditRoutes(r: RouteRegistry, s: Services): void {
  r.add(
    {
      method: 'get',
      path: '/audit-log',
      tag: 'audit',
      summary: "The tenant's audit trail",
      auth: ROLES.admin,
      scope: 'tenant',
      query: AuditQuery,
      response: PageOf(AuditEntryView),
    },
    async ({ tenantId, query }) => s.audit.list(tenantId, query),
  );
}
