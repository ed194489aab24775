// The Events of an object. core/v1 Events name it in involvedObject; events.k8s.io/v1 shows the same
// stored objects under other field names (regarding, note, deprecatedCount, ...), which are
// converted back here when only that API may be read. Events are ordered by when they were last
// seen (src/kube/event-time.ts).
import type { KubeObject } from '../contract/operations.ts';
import { lastSeen } from '../kube/event-time.ts';
import type { ApiResource } from './api-discovery.ts';

export const CORE_EVENTS: ApiResource = { group: '', version: 'v1', plural: 'events', kind: 'Event', namespaced: true };

/** Where the Events of an object are: its namespace, or `default` for cluster-scoped objects (as client-go's recorders put them). */
export function eventNamespaceOf(namespace: string | undefined): string {
  return namespace ?? 'default';
}

/** Field selector values escape `\`, `,` and `=` (apimachinery's fields.EscapeValue). */
export function selectorValue(value: string): string {
  return value.replace(/[\\,=]/g, (c) => `\\${c}`);
}

type Obj = Record<string, unknown>;

const timeOf = (event: KubeObject) => {
  const t = lastSeen(event);
  const ms = t ? Date.parse(t) : NaN;
  return Number.isNaN(ms) ? -Infinity : ms;
};

/**
 * The Events of one object: only those naming its uid and kind (however they were selected: an
 * Event that names the uid with another kind is nobody's), seen at or after `since`, newest first,
 * at most `limit`.
 */
export function eventsOf(events: readonly KubeObject[], object: { uid: string; kind: string }, opts: { limit?: number; since?: string }): KubeObject[] {
  const since = opts.since === undefined ? -Infinity : Date.parse(opts.since);
  const own = events.filter((e) => {
    const involved = e['involvedObject'] as Obj | undefined;
    return involved?.['uid'] === object.uid && involved['kind'] === object.kind && timeOf(e) >= since;
  });
  own.sort((a, b) => timeOf(b) - timeOf(a) || nameOf(a).localeCompare(nameOf(b)));
  return opts.limit !== undefined && opts.limit >= 0 ? own.slice(0, opts.limit) : own;
}

const nameOf = (e: KubeObject) => String((e['metadata'] as Obj | undefined)?.['name'] ?? '');

/** An events.k8s.io/v1 Event in the core/v1 shape (the apiserver's own conversion, field for field). */
export function fromEventsV1(e: KubeObject): KubeObject {
  const { regarding, note, deprecatedSource, deprecatedFirstTimestamp, deprecatedLastTimestamp, deprecatedCount, reportingController, ...rest } = e;
  const core: Obj = { ...rest, apiVersion: 'v1', kind: 'Event' };
  const put = (key: string, value: unknown) => {
    if (value !== undefined) core[key] = value;
  };
  put('involvedObject', regarding);
  put('message', note);
  put('source', deprecatedSource);
  put('firstTimestamp', deprecatedFirstTimestamp);
  put('lastTimestamp', deprecatedLastTimestamp);
  put('count', deprecatedCount);
  put('reportingComponent', reportingController);
  return core;
}
