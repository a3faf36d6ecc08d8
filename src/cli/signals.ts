/**
 * The signals that end a foreground `lango` command: Ctrl-C, a service manager's stop, and a
 * closed terminal (SIGHUP would otherwise kill Lango and leave its children running).
 */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      for (const s of STOP_SIGNALS) process.off(s, on);
      resolve(signal);
    };
    for (const s of STOP_SIGNALS) process.on(s, on);
  });
}
