/**
 * How many CoA/Disconnect-Requests the sender keeps in flight to one NAS: a window per NAS that
 * follows what the NAS shows it can take, so retransmissions happen only for packets that were
 * really lost.
 *
 * Why: a RouterOS box handles CoA one request at a time. Sent 10,000 requests at once, its queue
 * grows past the retransmission timer (irt 2 s): half the packets of such a burst were
 * retransmissions of requests still waiting in the NAS's queue (bench/results/enforcement-*),
 * which only lengthened the queue. Once the pipe is full a bigger window adds only delay.
 *
 * The rule (delay-based, in the spirit of TCP Vegas / LEDBAT, with TCP's slow start):
 *  - start at `initial`; each answer that came back on the first transmission with a round trip
 *    within `queueDelayMs` of the NAS's lowest recent round trip grows the window: by one per
 *    answer while below the slow-start threshold (doubling per round trip), then by 1/window
 *    (one per round trip);
 *  - an answer slower than that (the NAS is queueing) shrinks it by 1/window;
 *  - an answer that needed a retransmission (the request waited in the NAS's queue past the
 *    timer, or a packet was lost) halves it, at most once per smoothed round trip, and sets the
 *    slow-start threshold there;
 *  - a request that was never answered (after the whole retransmission schedule) says the NAS is
 *    silent, not slow: our packets are not what hurts it, and every waiting action should reach
 *    its fallback (RouterOS API) soon, so the window doubles, up to `max`.
 * The lowest round trip is the minimum over the last one or two `minRttWindowMs`, so a path that
 * got slower is learnt again.
 */

export interface NasWindowOptions {
  /** Window of a NAS not heard from yet. Default 8. */
  initial?: number;
  /** Never below this. Default 1. */
  min?: number;
  /** Never above this. Default 256 (the RADIUS Identifier space per destination). */
  max?: number;
  /** Queueing delay the NAS may build before the window stops growing. Default 250 ms. */
  queueDelayMs?: number;
  /** How long a lowest round trip is remembered. Default 60 s. */
  minRttWindowMs?: number;
}

export type WindowSample =
  /** Answered (ACK or NAK) after `attempts` transmissions; `rttMs` from the first one. */
  | { answered: true; rttMs: number; attempts: number }
  /** No answer at all (the retransmission schedule ran out), or the send failed. */
  | { answered: false };

interface NasState {
  cwnd: number;
  ssthresh: number;
  inflight: number;
  minRtt: number;
  prevMinRtt: number;
  minRttSince: number;
  srtt: number;
  lastCutAt: number;
  lastSeenAt: number;
}

export class NasWindows {
  private readonly o: Required<NasWindowOptions>;
  private readonly nas = new Map<string, NasState>();

  constructor(opts: NasWindowOptions = {}) {
    const max = opts.max ?? 256;
    const min = Math.min(opts.min ?? 1, max);
    this.o = {
      initial: Math.max(min, Math.min(opts.initial ?? 8, max)),
      min,
      max,
      queueDelayMs: opts.queueDelayMs ?? 250,
      minRttWindowMs: opts.minRttWindowMs ?? 60_000,
    };
  }

  private state(key: string): NasState {
    let s = this.nas.get(key);
    if (!s) {
      s = {
        cwnd: this.o.initial,
        ssthresh: this.o.max,
        inflight: 0,
        minRtt: Infinity,
        prevMinRtt: Infinity,
        minRttSince: -Infinity,
        srtt: 0,
        lastCutAt: -Infinity,
        lastSeenAt: -Infinity,
      };
      this.nas.set(key, s);
    }
    return s;
  }

  /** The whole window of a NAS (requests it may have in flight). */
  window(key: string): number {
    return Math.floor(this.nas.get(key)?.cwnd ?? this.o.initial);
  }

  /** Requests that may still be sent to this NAS now. */
  room(key: string): number {
    const s = this.nas.get(key);
    if (!s) return this.o.initial;
    return Math.max(0, Math.floor(s.cwnd) - s.inflight);
  }

  /** Room of a NAS with nothing in flight and no history. */
  get initialRoom(): number {
    return this.o.initial;
  }

  inflight(key: string): number {
    return this.nas.get(key)?.inflight ?? 0;
  }

  /** NAS with requests in flight (or a history) and their room now. */
  rooms(): Map<string, number> {
    const out = new Map<string, number>();
    for (const key of this.nas.keys()) out.set(key, this.room(key));
    return out;
  }

  sent(key: string): void {
    this.state(key).inflight++;
  }

  /** A request to this NAS is over (its slot is free again). */
  release(key: string): void {
    const s = this.nas.get(key);
    if (s) s.inflight = Math.max(0, s.inflight - 1);
  }

  /** What a request to this NAS showed; `now` in ms on the sender's clock. */
  observe(key: string, sample: WindowSample, now: number): void {
    const s = this.state(key);
    s.lastSeenAt = now;
    if (!sample.answered) {
      s.cwnd = Math.min(this.o.max, Math.max(s.cwnd * 2, this.o.initial));
      return;
    }
    const rtt = Math.max(0, sample.rttMs);
    if (now - s.minRttSince >= this.o.minRttWindowMs) {
      s.prevMinRtt = s.minRtt;
      s.minRtt = Infinity;
      s.minRttSince = now;
    }
    if (sample.attempts <= 1) {
      s.minRtt = Math.min(s.minRtt, rtt);
      s.srtt = s.srtt === 0 ? rtt : 0.875 * s.srtt + 0.125 * rtt;
    }
    if (sample.attempts > 1) {
      if (now - s.lastCutAt >= Math.max(s.srtt, 1)) {
        s.lastCutAt = now;
        s.ssthresh = Math.max(this.o.min, s.cwnd / 2);
        s.cwnd = s.ssthresh;
      }
      return;
    }
    const base = Math.min(s.minRtt, s.prevMinRtt);
    if (rtt <= base + this.o.queueDelayMs) {
      s.cwnd += s.cwnd < s.ssthresh ? 1 : 1 / s.cwnd;
    } else {
      s.cwnd -= 1 / s.cwnd;
    }
    s.cwnd = Math.min(this.o.max, Math.max(this.o.min, s.cwnd));
  }

  /** Forgets NAS with nothing in flight and not heard from for `idleMs` (they start again at `initial`). */
  prune(now: number, idleMs = 10 * 60_000): void {
    for (const [key, s] of this.nas) if (s.inflight === 0 && now - s.lastSeenAt > idleMs) this.nas.delete(key);
  }
}
