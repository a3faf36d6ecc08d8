/**
 * One catalogue of error codes with their HTTP status. Services throw AppError; the HTTP layer
 * turns it into {"error": {"code", "message", "details"}}. Unknown errors become INTERNAL.
 */
export const ERRORS = {
  VALIDATION_FAILED: 400,
  BAD_JSON: 400,
  /** The request could not be read: a body its Content-Encoding does not decode, a wrong Content-Length. */
  BAD_REQUEST: 400,
  TENANT_REQUIRED: 400,
  /** A captive-portal visit whose router parameters are missing, malformed or name a foreign router. */
  PORTAL_REDIRECT_INVALID: 400,
  /** The portal page was opened without the router's redirect (no device to log in). */
  PORTAL_NO_DEVICE: 400,
  UNAUTHENTICATED: 401,
  INVALID_CREDENTIALS: 401,
  API_KEY_EXPIRED: 401,
  API_KEY_CREATOR_DISABLED: 401,
  FORBIDDEN: 403,
  TENANT_SUSPENDED: 403,
  /** An HTML form without its CSRF token, or with one that does not match its cookie. */
  CSRF_FAILED: 403,
  NOT_FOUND: 404,
  TENANT_NOT_FOUND: 404,
  PLAN_NOT_FOUND: 404,
  SUBSCRIBER_NOT_FOUND: 404,
  NAS_NOT_FOUND: 404,
  API_KEY_NOT_FOUND: 404,
  USER_NOT_FOUND: 404,
  SESSION_NOT_FOUND: 404,
  ENFORCEMENT_ACTION_NOT_FOUND: 404,
  VOUCHER_NOT_FOUND: 404,
  VOUCHER_BATCH_NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  PAYMENT_NOT_FOUND: 404,
  MPESA_ACCOUNT_NOT_FOUND: 404,
  CONFLICT: 409,
  TENANT_EXISTS: 409,
  USER_EXISTS: 409,
  PLAN_EXISTS: 409,
  PLAN_IN_USE: 409,
  SUBSCRIBER_EXISTS: 409,
  NAS_ADDRESS_IN_USE: 409,
  INVALID_STATE: 409,
  MPESA_ACCOUNT_IN_USE: 409,
  MPESA_ACCOUNT_EXISTS: 409,
  /** A feature that needs configuration the tenant or the operator has not given (an M-Pesa account, LANGO_PUBLIC_URL). */
  NOT_CONFIGURED: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  DATABASE_UNAVAILABLE: 503,
  /** Daraja refused for now (busy, spike arrest, another prompt open): try again shortly. */
  PAYMENT_PROVIDER_BUSY: 503,
  PAYMENT_PROVIDER_UNAVAILABLE: 503,
  /** Daraja refused the collection account's credentials or shortcode. */
  PAYMENT_PROVIDER_ERROR: 502,
  NOT_READY: 503,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AppError';
    this.status = ERRORS[code];
  }
}

/**
 * A readiness check's failure whose message is safe to show (/readyz puts it in its JSON, e.g. a
 * stale heartbeat); any other error of a check is only logged.
 */
export class NotReady extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotReady';
  }
}
