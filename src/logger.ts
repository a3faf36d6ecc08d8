import pino, { Logger } from 'pino';

/** One root logger; modules take `logger.child({ module })`. Secrets are redacted by path. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: undefined,
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          '*.password',
          '*.secret',
          '*.passkey',
          '*.apiKey',
          '*.token',
          'password',
          'secret',
          'databaseUrl',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

export type { Logger };
