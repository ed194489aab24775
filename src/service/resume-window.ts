// The resume window of one upstream watch: its recent events, bounded in bytes, from which a
// subscriber resumes, catches up after its initial state, or is paged through a relist's
// difference. An entry shares its object with the store; only objects no longer current (replaced
// or deleted) count against the bound, with a fixed overhead per entry and what selectors read of
// the object before the change (a view: name, namespace, labels, selectable fields) instead of
// that whole object. Kubernetes' watch cache keeps the same (PrevObjLabels, PrevObjFields).
import type { HubEvent, KubeObject } from './watch-types.ts';

/** Bytes an entry costs besides objects: its own fields and the event objects handed out for it. */
const entryOverhead = 256;

export type EntryType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

export class WindowEntry {
  readonly seq: number;
  readonly rv: bigint;
  readonly type: EntryType;
  readonly object: KubeObject;
  /** The store key of the object ('' for a bookmark). */
  readonly key: string;
  /** What selectors read of the object before this change (a MODIFIED with a previous object). */
  readonly before: KubeObject | undefined;
  /** Bytes held for this entry alone. */
  cost: number;
  /**
   * The resourceVersion subscribers are told for this event when it is not `rv`: an event of a
   * relist's difference stands at the new list's resourceVersion in the window (for order), but
   * tells the one before the relist, from which a resume replays the whole difference: the new
   * list's is a resume point only once the difference is over (the bookmark after it).
   */
  readonly shownRv: bigint | undefined;
  private shared: Partial<Record<EntryType, HubEvent>> | undefined;

  constructor(seq: number, rv: bigint, type: EntryType, object: KubeObject, key: string, before: KubeObject | undefined, cost: number, shownRv?: bigint) {
    this.seq = seq;
    this.rv = rv;
    this.type = type;
    this.object = object;
    this.key = key;
    this.before = before;
    this.cost = cost;
    this.shownRv = shownRv;
  }

  /**
   * The event this entry is for a subscriber that sees it as `type` (a MODIFIED that leaves a
   * selector is a DELETED to it). One object per type, shared by every subscriber, so work done
   * per event object (a GraphQL execution, a serialized frame) is done once.
   */
  eventAs(type: EntryType): HubEvent {
    this.shared ??= {};
    return (this.shared[type] ??= { type, object: this.object, resourceVersion: (this.shownRv ?? this.rv).toString() });
  }
}

export class ResumeWindow {
  /** Events with a resourceVersion above this are all in the window. */
  floor: bigint;
  /** Bytes the window holds (see the file comment). */
  bytes = 0;
  /** The sequence number the next entry gets. */
  nextSeq = 0;
  private readonly maxBytes: number;
  private entries: WindowEntry[] = [];
  /** Index in `entries` of the oldest entry still in the window. */
  private start = 0;

  constructor(maxBytes: number, floor: bigint) {
    this.maxBytes = maxBytes;
    this.floor = floor;
  }

  get size(): number {
    return this.entries.length - this.start;
  }

  /** Sequence number of the oldest entry still held (nextSeq when empty). */
  get firstSeq(): number {
    return this.nextSeq - this.size;
  }

  append(rv: bigint, type: EntryType, object: KubeObject, key: string, before: KubeObject | undefined, objectBytes: number, shownRv?: bigint): WindowEntry {
    // A deleted object or a bookmark is held by the window alone; a current one by the store too.
    const alone = type === 'DELETED' ? objectBytes : 0;
    const cost = entryOverhead + alone + (before ? viewBytes(before) : 0);
    const entry = new WindowEntry(this.nextSeq++, rv, type, object, key, before, cost, shownRv);
    this.entries.push(entry);
    this.bytes += cost;
    return entry;
  }

  /** The entry's object left the store (a newer version replaced it): from now on its bytes are the window's. */
  charge(entry: WindowEntry, objectBytes: number): void {
    if (entry.seq < this.firstSeq) return;
    entry.cost += objectBytes;
    this.bytes += objectBytes;
  }

  at(seq: number): WindowEntry | undefined {
    if (seq < this.firstSeq || seq >= this.nextSeq) return undefined;
    return this.entries[this.start + seq - this.firstSeq];
  }

  /** The sequence number of the first entry after `rv` (nextSeq when there is none). */
  seqAfter(rv: bigint): number {
    let lo = this.start;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.entries[mid]!.rv <= rv) lo = mid + 1;
      else hi = mid;
    }
    return this.firstSeq + (lo - this.start);
  }

  /**
   * Drops the oldest entries until the window fits its bound; the floor moves to the last one
   * dropped. Returns the entries dropped, oldest first.
   */
  evict(): WindowEntry[] {
    const dropped: WindowEntry[] = [];
    while (this.bytes > this.maxBytes && this.size > 0) {
      const e = this.entries[this.start]!;
      this.entries[this.start++] = undefined as unknown as WindowEntry;
      this.bytes -= e.cost;
      this.floor = e.rv;
      dropped.push(e);
    }
    // Compact now and then, so that dropped slots do not accumulate.
    if (this.start > 1024 && this.start * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.start);
      this.start = 0;
    }
    return dropped;
  }
}

/**
 * What selectors and visibility filters read of an object: name, namespace, labels and the
 * selectable fields (JSON paths such as .spec.cronSpec).
 */
export function selectorView(obj: KubeObject, selectable: readonly (readonly string[])[]): KubeObject {
  const m = (obj.metadata ?? {}) as { name?: unknown; namespace?: unknown; labels?: unknown };
  const view: KubeObject = { metadata: { name: m.name, namespace: m.namespace, labels: m.labels } };
  for (const path of selectable) {
    let from: unknown = obj;
    for (const k of path) from = from && typeof from === 'object' ? (from as Record<string, unknown>)[k] : undefined;
    if (from === undefined) continue;
    let into = view;
    for (const k of path.slice(0, -1)) into = (into[k] ??= {}) as KubeObject;
    into[path.at(-1)!] = from;
  }
  return view;
}

function viewBytes(view: KubeObject): number {
  let n = 128;
  const labels = (view.metadata as { labels?: Record<string, string> } | undefined)?.labels;
  if (labels) for (const [k, v] of Object.entries(labels)) n += 2 * (k.length + String(v).length) + 32;
  return n;
}
