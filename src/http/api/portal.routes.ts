import type { RouteRegistry } from '../registry';
import type { Services } from '../../modules/services';
import { ROLES } from '../../modules/tenancy/principals';
import { PortalSettingsPatch, PortalSettingsView } from '../../modules/portal/portal.schemas';

export function registerPortalRoutes(r: RouteRegistry, s: Services): void {
  r.add(
    {
      method: 'get',
      path: '/portal-settings',
      tag: 'portal',
      summary: "The captive portal's look, hotspot DNS names and paybill fallback",
      auth: ROLES.staff,
      scope: 'tenant',
      response: PortalSettingsView,
    },
    async ({ tenantId }) => s.portal.settings(tenantId),
  );
  r.add(
    {
      method: 'patch',
      path: '/portal-settings',
      tag: 'portal',
      summary: "Change the captive portal's settings (fields not given keep their value)",
      auth: ROLES.admin,
      scope: 'tenant',
      body: PortalSettingsPatch,
      response: PortalSettingsView,
    },
    async ({ tenantId, body, actor }) => s.portal.updateSettings(actor, tenantId, body),
  );
}
