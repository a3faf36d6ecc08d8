import { Type, Obj, Enum, Defaulted, Uuid, Str, type Static } from '../../lib/schema';

/** The reports served at /api/v1/reports/<name>, each reading one view of schema reports. */
export const REPORT_NAMES = [
  'usage',
  'top-users',
  'sessions',
  'sessions-history',
  'auth-failures',
  'nas-health',
  'enforcement',
  'revenue',
  'payment-funnel',
  'voucher-stock',
] as const;
export type ReportName = (typeof REPORT_NAMES)[number];

/** Groupings each report accepts (the first is the default). */
export const REPORT_GROUPS: Record<ReportName, readonly string[]> = {
  usage: ['day', 'month', 'user', 'user_day'],
  'top-users': ['user'],
  sessions: ['nas'],
  'sessions-history': ['sample', 'nas_sample'],
  'auth-failures': ['day', 'reason', 'day_reason'],
  'nas-health': ['nas'],
  enforcement: ['day', 'status', 'reason', 'day_status'],
  revenue: ['day', 'plan', 'channel', 'day_channel', 'day_plan'],
  'payment-funnel': ['day', 'channel', 'day_channel'],
  'voucher-stock': ['batch'],
};

/** Longest range a report reads, in days (a year and a day: one year-over-year comparison). */
export const MAX_RANGE_DAYS = 366;
export const MAX_ROWS = 10000;

export const ReportParams = Obj({ name: Enum(REPORT_NAMES) });

/** A tenant day, YYYY-MM-DD (checked to be a real date in the service). */
const Day = Type.String({
  pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$',
  description: "a day in the tenant's time zone, YYYY-MM-DD",
});

export const ReportQuery = Obj({
  from: Type.Optional(Day),
  to: Type.Optional(Day),
  groupBy: Type.Optional(Str(20)),
  format: Type.Optional(Enum(['json', 'csv'] as const)),
  limit: Defaulted(Type.Integer({ minimum: 1, maximum: MAX_ROWS, default: 1000 })),
  username: Type.Optional(Str(253)),
  nasId: Type.Optional(Uuid),
});
export type ReportQuery = Static<typeof ReportQuery>;

const Cell = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]);

export const ReportView = Obj({
  report: Type.String(),
  groupBy: Type.String(),
  timeZone: Type.String(),
  /** The inclusive range of tenant days read; null for reports of the present (sessions, NAS health). */
  from: Type.Union([Type.String(), Type.Null()]),
  to: Type.Union([Type.String(), Type.Null()]),
  columns: Type.Array(Type.String()),
  rows: Type.Array(Type.Record(Type.String(), Cell)),
  /** More rows matched than limit. */
  truncated: Type.Boolean(),
});
export type ReportView = Static<typeof ReportView>;
export type Row = Record<string, string | number | boolean | null>;
