/** Why FreeRADIUS could not be started or checked. `lango` prints these without a stack. */
export class FreeRadiusError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The executable was not found (spawn failed with ENOENT). */
export class FreeRadiusNotInstalledError extends FreeRadiusError {
  constructor(readonly binary: string, options?: { cause?: unknown }) {
    super(
      `FreeRADIUS executable "${binary}" was not found: install with apt-get install -y freeradius freeradius-postgresql freeradius-utils`,
      options,
    );
  }
}

/** Invalid options (a client network that is not a CIDR, a bad port...). Nothing was started. */
export class FreeRadiusOptionsError extends FreeRadiusError {}

/** FreeRADIUS exited, failed to spawn, or was not ready in time. `output` is the last lines. */
export class FreeRadiusStartError extends FreeRadiusError {
  constructor(
    reason: string,
    readonly output: readonly string[],
    readonly exitCode: number | null = null,
    readonly signal: NodeJS.Signals | null = null,
    options?: { cause?: unknown },
  ) {
    super(
      output.length ? `${reason}\n--- last ${output.length} lines of FreeRADIUS output ---\n${output.join('\n')}` : reason,
      options,
    );
  }
}

/** `freeradius -XC` rejected the configuration. */
export class FreeRadiusConfigError extends FreeRadiusStartError {}
