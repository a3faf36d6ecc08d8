/**
 * Runs nft, tc and ip for the nftables driver: no shell (execFile), scripts on stdin
 * (`nft -f -`, `tc -batch -`) built only by the templates of values.ts, a timeout, and failures
 * as FirewallError COMMAND_FAILED with the exit code and stderr. With `netns`, every command
 * runs inside that network namespace (`ip netns exec`): how the tests drive a gateway namespace.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { FirewallError } from './errors';
import { V } from './values';

export type FirewallCommand = 'nft' | 'tc' | 'ip';

export interface CommandRunner {
  /** stdout of the command; throws FirewallError COMMAND_FAILED when it fails. */
  run(command: FirewallCommand, args: readonly string[], stdin?: string): Promise<string>;
}

export interface CommandRunnerOptions {
  /** Run inside this network namespace (`ip netns exec NAME ...`). */
  netns?: string;
  timeoutMs?: number;
}

/** Debian keeps nft, tc and ip in /usr/sbin, which is not on every PATH. */
function binary(name: FirewallCommand): string {
  for (const dir of ['/usr/sbin', '/sbin', '/usr/bin', '/bin']) {
    const p = path.join(dir, name);
    if (existsSync(p)) return p;
  }
  return name;
}

export function createCommandRunner(opts: CommandRunnerOptions = {}): CommandRunner {
  const netns = opts.netns === undefined ? undefined : V.netns(opts.netns, 'netns').raw;
  const timeout = opts.timeoutMs ?? 15_000;
  return {
    run(command, args, stdin) {
      const [file, argv] =
        netns === undefined
          ? [binary(command), [...args]]
          : [binary('ip'), ['netns', 'exec', netns, binary(command), ...args]];
      return new Promise((resolve, reject) => {
        const child = execFile(
          file,
          argv,
          { timeout, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
          (err, stdout, stderr) => {
            if (!err) return resolve(stdout);
            const e = err as NodeJS.ErrnoException & { code?: number | string; killed?: boolean };
            reject(
              new FirewallError(
                'COMMAND_FAILED',
                `${command} ${args.join(' ')} failed: ${stderr.trim().split('\n').slice(0, 8).join(' | ') || e.message}`,
                {
                  command,
                  args,
                  exitCode: typeof e.code === 'number' ? e.code : null,
                  timedOut: e.killed === true,
                  stderr: stderr.slice(0, 4000),
                },
              ),
            );
          },
        );
        child.stdin?.on('error', () => undefined); // a command that exits early closes its stdin
        child.stdin?.end(stdin ?? '');
      });
    },
  };
}
