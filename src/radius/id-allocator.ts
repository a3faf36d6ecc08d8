/**
 * RADIUS Identifier allocation for one socket: 256 ids; when all are in use, callers wait in
 * FIFO order until one is released. Ids are handed out round-robin so a just-freed id is reused
 * as late as possible (a late reply to an old request then meets a fresh id only rarely, and it
 * would still fail the authenticator check).
 */

interface Waiter {
  readonly resolve: (id: number) => void;
  readonly reject: (err: unknown) => void;
  readonly cleanup: () => void;
}

export class IdentifierAllocator {
  private readonly used: boolean[];
  private next = 0;
  private count = 0;
  private readonly waiters: Waiter[] = [];

  constructor(private readonly size: number = 256) {
    if (!Number.isInteger(size) || size < 1 || size > 256) throw new RangeError('size must be 1..256');
    this.used = new Array<boolean>(size).fill(false);
  }

  get inUse(): number {
    return this.count;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  tryAcquire(): number | undefined {
    if (this.count >= this.size) return undefined;
    for (let i = 0; i < this.size; i++) {
      const id = (this.next + i) % this.size;
      if (!this.used[id]) {
        this.used[id] = true;
        this.count++;
        this.next = (id + 1) % this.size;
        return id;
      }
    }
    return undefined;
  }

  /** Resolve with a free id, waiting if needed; rejects with signal.reason on abort. */
  acquire(signal?: AbortSignal): Promise<number> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const id = this.tryAcquire();
    if (id !== undefined) return Promise.resolve(id);
    return new Promise<number>((resolve, reject) => {
      const onAbort = (): void => {
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        resolve,
        reject,
        cleanup: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** Free an id; the oldest waiter, if any, gets it directly. */
  release(id: number): void {
    if (!this.used[id]) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter.cleanup();
      waiter.resolve(id);
      return;
    }
    this.used[id] = false;
    this.count--;
  }

  /** Reject every waiter (used on close). */
  rejectWaiters(err: unknown): void {
    for (const waiter of this.waiters.splice(0)) {
      waiter.cleanup();
      waiter.reject(err);
    }
  }
}
