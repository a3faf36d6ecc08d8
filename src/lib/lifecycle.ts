/** Start/stop for the builders of main.ts: what was started is stopped in reverse order. */
export interface Lifecycle {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Shutdown steps, run last-in first-out; a failing step is reported and the rest still run. */
export class ShutdownSteps {
  private readonly steps: Array<() => Promise<void>> = [];

  constructor(private readonly onError: (err: unknown) => void) {}

  push(step: () => Promise<void>): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) await step().catch(this.onError);
  }
}

/** Starts `part`; if that fails, stops what it had started and rethrows. */
export async function started<T extends Lifecycle>(part: T): Promise<T> {
  try {
    await part.start();
  } catch (err) {
    await part.stop();
    throw err;
  }
  return part;
}
