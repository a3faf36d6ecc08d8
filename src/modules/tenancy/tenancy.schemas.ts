import {
  Type,
  Obj,
  Str,
  Nullable,
  Enum,
  Email,
  StaffPassword,
  Instant,
  PageQuery,
  type Static,
} from '../../lib/schema';

export const TenantSlug = Type.String({ pattern: '^[a-z0-9][a-z0-9-]{1,62}$' });
const Currency = Type.String({ pattern: '^[A-Z]{3}$' });
const RoleName = Enum(['platform_admin', 'tenant_admin', 'tenant_operator'] as const);
export const StaffRole = Enum(['tenant_admin', 'tenant_operator'] as const);

export const ListQuery = Obj({ ...PageQuery });
export type ListQuery = Static<typeof ListQuery>;

// Tenants

export const TenantView = Obj({
  id: Type.String(),
  name: Type.String(),
  slug: Type.String(),
  timeZone: Type.String(),
  currency: Type.String(),
  status: Enum(['active', 'suspended'] as const),
  createdAt: Instant,
});
export type TenantView = Static<typeof TenantView>;

export const CreateTenant = Obj({
  name: Str(120),
  slug: TenantSlug,
  timeZone: Type.Optional(Str(64)),
  currency: Type.Optional(Currency),
  admin: Obj({ email: Email, password: StaffPassword, name: Type.Optional(Str(120)) }),
});
export type CreateTenant = Static<typeof CreateTenant>;

export const TenantPatch = Obj({
  name: Type.Optional(Str(120)),
  timeZone: Type.Optional(Str(64)),
  currency: Type.Optional(Currency),
  status: Type.Optional(Enum(['active', 'suspended'] as const)),
});
export type TenantPatch = Static<typeof TenantPatch>;

// Staff users

export const UserView = Obj({
  id: Type.String(),
  tenantId: Nullable(Type.String()),
  email: Type.String(),
  name: Nullable(Type.String()),
  role: RoleName,
  disabled: Type.Boolean(),
  createdAt: Instant,
});
export type UserView = Static<typeof UserView>;

export const CreatedTenant = Obj({ tenant: TenantView, admin: UserView });
export type CreatedTenant = Static<typeof CreatedTenant>;

export const CreateUser = Obj({
  email: Email,
  password: StaffPassword,
  name: Type.Optional(Str(120)),
  role: StaffRole,
});
export type CreateUser = Static<typeof CreateUser>;

export const UserPatch = Obj({
  name: Type.Optional(Str(120)),
  role: Type.Optional(StaffRole),
  disabled: Type.Optional(Type.Boolean()),
  password: Type.Optional(StaffPassword),
});
export type UserPatch = Static<typeof UserPatch>;

export const Login = Obj({
  email: Email,
  password: Type.String({ minLength: 1, maxLength: 200 }),
  tenant: Type.Optional(TenantSlug),
});
export type Login = Static<typeof Login>;

export const LoginResult = Obj({ token: Type.String(), expiresIn: Type.Integer(), user: UserView });
export type LoginResult = Static<typeof LoginResult>;

export const Me = Obj({
  kind: Enum(['user', 'api_key'] as const),
  id: Type.String(),
  role: RoleName,
  tenantId: Nullable(Type.String()),
  user: Type.Optional(UserView),
});
export type Me = Static<typeof Me>;

// API keys

export const ApiKeyView = Obj({
  id: Type.String(),
  name: Type.String(),
  prefix: Type.String(),
  role: Type.String(),
  lastUsedAt: Nullable(Instant),
  revokedAt: Nullable(Instant),
  expiresAt: Nullable(Instant),
  createdAt: Instant,
});
export type ApiKeyView = Static<typeof ApiKeyView>;

export const CreatedApiKey = Obj({ ...ApiKeyView.properties, key: Type.String() });
export type CreatedApiKey = Static<typeof CreatedApiKey>;

export const CreateApiKey = Obj({
  name: Str(120),
  role: StaffRole,
  expiresAt: Type.Optional(Type.String({ format: 'date-time' })),
});
export type CreateApiKey = Static<typeof CreateApiKey>;
