/** Minimal `--key value` / `--flag` parser: the CLI has few options and no dependency is needed. */
export interface Parsed {
  positional: string[];
  options: Record<string, string | true>;
}

export function parseArgs(argv: string[]): Parsed {
  const positional: string[] = [];
  const options: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq > 0) options[a.slice(2, eq)] = a.slice(eq + 1);
      else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) options[a.slice(2)] = argv[++i]!;
      else options[a.slice(2)] = true;
    } else positional.push(a);
  }
  return { positional, options };
}

export function requireOpt(p: Parsed, name: string): string {
  const v = p.options[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`--${name} is required`);
  return v;
}

export class UsageError extends Error {}

/** An integer option from min to max (the default when absent, if given). */
export function intOpt(args: Parsed, name: string, def: number | undefined, min: number, max: number): number {
  const raw = args.options[name];
  if (raw === undefined && def !== undefined) return def;
  const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new UsageError(`--${name}: an integer from ${min} to ${max}`);
  return n;
}
