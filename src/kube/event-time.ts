// When a Kubernetes Event was last seen, as kubectl's LAST SEEN column reads it: the last
// observation of its series, else lastTimestamp, else eventTime (events.k8s.io recorders set only
// that), else firstTimestamp, else its creation.
type Obj = Record<string, unknown>;

export function lastSeen(event: Obj): string | undefined {
  const series = event['series'] as Obj | undefined;
  const metadata = event['metadata'] as Obj | undefined;
  for (const t of [series?.['lastObservedTime'], event['lastTimestamp'], event['eventTime'], event['firstTimestamp'], metadata?.['creationTimestamp']]) {
    if (typeof t === 'string' && t) return t;
  }
  return undefined;
}
