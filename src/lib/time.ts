/** Instants and time zones, the same way everywhere: UTC ISO 8601 on the wire. */

/** An instant as the API writes it (null stays null). */
export function iso(d: Date | string): string;
export function iso(d: Date | string | null): string | null;
export function iso(d: Date | string | null): string | null {
  return d === null ? null : new Date(d).toISOString();
}

/** The same, for a nullable column (undefined and null both become null). */
export function isoOrNull(d: Date | string | null | undefined): string | null {
  return d === null || d === undefined ? null : new Date(d).toISOString();
}

/** Whether the runtime knows this IANA time zone (e.g. Africa/Nairobi). */
export function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
