// Whether the apiserver answers now, for /readyz. The gateway's open watches cannot tell: while
// the apiserver is frozen or a connection is half open, nothing arrives on them and nothing fails
// until their idle timeout, minutes later, and readiness went on saying "ready" while every call
// timed out. So readiness asks, with a cheap GET /version (no storage behind it) under a short
// deadline, at most once per interval. The check is started by a readiness request and its answer
// read by the next one: a probe never waits on the apiserver, and a gateway nobody probes asks
// nothing.
import type { KubeClient } from './kube-client.ts';

export interface ApiReachabilityOptions {
  /** How old an answer may be before a readiness request starts a new check. */
  intervalMs?: number;
  /** How long the apiserver has to answer a check. */
  timeoutMs?: number;
  /** Told when the answer changes (not on every check). */
  onChange?: (reachable: boolean, error?: unknown) => void;
  now?: () => number;
}

export class ApiReachability {
  private readonly client: KubeClient;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly onChange: ApiReachabilityOptions['onChange'];
  private readonly now: () => number;
  /** Reachable until a check says otherwise: the gateway started only after the apiserver answered. */
  private last: { reachable: boolean; error?: unknown; at: number };
  private checking = false;

  constructor(client: KubeClient, opts: ApiReachabilityOptions = {}) {
    this.client = client;
    this.intervalMs = opts.intervalMs ?? 5_000;
    this.timeoutMs = opts.timeoutMs ?? 5_000;
    this.onChange = opts.onChange;
    this.now = opts.now ?? Date.now;
    this.last = { reachable: true, at: this.now() };
  }

  /** The newest answer; starts a new check when it is older than the interval and none runs. */
  current(): { reachable: boolean; error?: unknown } {
    if (!this.checking && this.now() - this.last.at >= this.intervalMs) void this.check();
    return this.last;
  }

  private async check(): Promise<void> {
    this.checking = true;
    let answer: { reachable: boolean; error?: unknown };
    try {
      await this.client.request('GET', '/version', { timeoutMs: this.timeoutMs });
      answer = { reachable: true };
    } catch (error) {
      answer = { reachable: false, error };
    }
    const changed = answer.reachable !== this.last.reachable;
    this.last = { ...answer, at: this.now() };
    this.checking = false;
    if (changed) this.onChange?.(answer.reachable, answer.error);
  }
}
