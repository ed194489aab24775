// Keeps the served GraphQL schema in step with the CRD catalog. Each new snapshot is turned into
// models (cached per CRD resourceVersion), built incrementally, swapped in atomically (operations
// already running finish on the schema they started with), and compared with the previous schema
// so that changes that break clients are logged (in slices after the swap, as far as the change reaches). Subscriptions whose resource version disappeared
// or changed end with SCHEMA_CHANGED: their selections were validated against a type that is gone.
// A change elsewhere in the CRD (another version added or changed, printer columns) leaves them
// running; served-version.ts says what a version's subscribers depend on. Subscriptions of other
// resources whose selections read a changed version's type through relation fields end with them.
import type { GraphQLSchema } from 'graphql';
import { ApiError } from '../api-errors.ts';
import { isEstablished, type CrdCatalog, type CrdObject, type CrdSnapshot } from '../catalog/crd-catalog.ts';
import { breakingChanges, breakingChangesLine } from '../graphql/breaking-changes.ts';
import { runInSlices } from '../graphql/lazy-schema.ts';
import { versionTypeSource } from '../graphql/resource-types.ts';
import { createSchemaBuilder, type SchemaBuilder } from '../graphql/schema-builder.ts';
import type { ResourceOperations } from '../contract/operations.ts';
import { tryCrdToModel, type ModelResult } from '../model/crd-to-model.ts';
import { resourceTypeName } from '../model/graphql-type-names.ts';
import { sameContent, type ResourceModel } from '../model/resource-model.ts';
import { sameServedVersion as sameApiOf } from './served-version.ts';
import { parseRv, type WatchHub, type WatchKey } from './watch-hub.ts';

export interface LiveSchemaLog {
  info(msg: string): void;
  warn(msg: string): void;
}

export interface LiveSchemaOptions {
  operations: ResourceOperations<any>;
  hub?: WatchHub;
  log?: LiveSchemaLog;
  /** Compare each new schema with the previous one and log breaking changes. */
  reportBreakingChanges?: boolean;
  /**
   * A CRD as the apiserver has it now (catalog's crdReader). Given with a hub, a 404 of the hub's
   * watch of a version waits until the snapshots have caught up with it (see holdNotFound).
   */
  crdOf?: (name: string, timeoutMs?: number) => Promise<CrdObject | undefined>;
  /** The longest a 404 waits, the CRD's GET included (default 10 s): the CRD watch may be failing. */
  notFoundHoldMs?: number;
}

export interface RebuildStats {
  rebuilds: number;
  /** Snapshots that changed nothing the API depends on (CRD status updates): no rebuild. */
  unchanged: number;
  lastDurationMs: number;
  crds: number;
  problems: number;
}

export class LiveSchema {
  private readonly builder: SchemaBuilder;
  private readonly opts: LiveSchemaOptions;
  private readonly modelCache = new Map<string, { rv: string | undefined; result: ModelResult }>();
  private schema: GraphQLSchema | undefined;
  private builtResources: readonly ResourceModel[] = [];
  /** Per served `group/version/plural`: its model and the CRD object it was made from. */
  private served = new Map<string, ServedVersion>();
  private unsubscribe: (() => void) | undefined;
  readonly stats: RebuildStats = { rebuilds: 0, unchanged: 0, lastDurationMs: 0, crds: 0, problems: 0 };
  private last: { models: readonly ResourceModel[]; problems: string } | undefined;
  private readonly listeners = new Set<(schema: GraphQLSchema) => void>();
  /** Per CRD name, the resourceVersion of the last snapshot rebuilt from. */
  private seen = new Map<string, bigint | undefined>();
  /** Held 404s: each one's check (run after every rebuild) and its end. */
  private readonly holds = new Map<() => void, () => void>();
  /**
   * Per CRD name, the GET in flight for held 404s, and the one to start after it for the 404s that
   * came while it was in flight (shared by all of them).
   */
  private readonly crdReads = new Map<string, CrdReads>();
  /** The breaking-change reports queued so far, in rebuild order. */
  private reported: Promise<void> = Promise.resolve();

  constructor(opts: LiveSchemaOptions) {
    this.opts = opts;
    // The builder only produces valid schemas (the corpus test checks that with validateSchema);
    // without assumeValid, graphql-js would validate the whole schema again on the first request
    // after every CRD change, which costs more than the rebuild itself at a thousand CRDs.
    this.builder = createSchemaBuilder({ operations: opts.operations, assumeValid: true });
    opts.hub?.admitWith((key, o) => this.refusal(key, o.servedAs) ?? this.relatedRefusal(o.relatedTypesAs));
    const crdOf = opts.crdOf;
    if (crdOf) opts.hub?.holdNotFoundWith((key, signal) => this.caughtUpWith(key, crdOf, signal));
  }

  get current(): GraphQLSchema | undefined {
    return this.schema;
  }

  /** The resources in the current schema, sorted by CRD name. */
  get resources(): readonly ResourceModel[] {
    return this.builtResources;
  }

  /** Builds from the catalog's snapshot now and on every change, updating the gateway. */
  follow(catalog: CrdCatalog, gateway: { update(schema: GraphQLSchema): void }): void {
    const apply = (snap: CrdSnapshot) => gateway.update(this.rebuild(snap));
    const first = catalog.current();
    if (first) apply(first);
    this.unsubscribe = catalog.subscribe((snap) => apply(snap));
  }

  /** Stops following the catalog and ends the holds of 404s (their timers with them). */
  stop(): void {
    this.unsubscribe?.();
    for (const end of [...this.holds.values()]) end();
  }

  onChange(listener: (schema: GraphQLSchema) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  rebuild(snapshot: CrdSnapshot): GraphQLSchema {
    const schema = this.build(snapshot);
    this.seen = new Map(snapshot.crds.map((c) => [c.metadata.name, parseRv(c.metadata.resourceVersion)]));
    for (const check of [...this.holds.keys()]) check();
    return schema;
  }

  /**
   * Resolves once the snapshots rebuilt from are as new as the apiserver's CRD of `key` now (the
   * subscribers a change of it ended have then been ended), when the GET fails, when `signal`
   * aborts (the watch recovered or stopped), at stop(), or notFoundHoldMs after the call, GET
   * included: a slow apiserver does not hold a real 404 longer.
   */
  private caughtUpWith(key: WatchKey, crdOf: CrdOf, signal: AbortSignal): Promise<void> {
    const name = `${key.plural}.${key.group}`;
    const holdMs = this.opts.notFoundHoldMs ?? 10_000;
    return new Promise<void>((resolve) => {
      let caughtUp: (() => boolean) | undefined;
      const check = () => {
        if (caughtUp?.()) end();
      };
      const end = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', end);
        this.holds.delete(check);
        resolve();
      };
      const timer = setTimeout(end, holdMs);
      timer.unref();
      signal.addEventListener('abort', end, { once: true });
      this.holds.set(check, end);
      if (signal.aborted) end();
      this.crdNow(name, crdOf, holdMs).then((crd) => {
        caughtUp = this.caughtUpTest(name, crd);
        check();
      }, end);
    });
  }

  /**
   * The CRD as the apiserver has it, read after the 404 came: one GET shared by the 404s of all its
   * watches (one per namespace, one per version). A GET already in flight may have been answered
   * before the change that caused this 404 (a version unserved, then the CRD deleted): the 404s
   * that come meanwhile share the next GET, started once it has settled.
   */
  private crdNow(name: string, crdOf: CrdOf, timeoutMs: number): Promise<CrdObject | undefined> {
    const reads = this.crdReads.get(name);
    if (reads === undefined) return this.startCrdRead(name, crdOf, timeoutMs);
    reads.next ??= reads.current.then(noop, noop).then(() => this.startCrdRead(name, crdOf, timeoutMs));
    return reads.next;
  }

  private startCrdRead(name: string, crdOf: CrdOf, timeoutMs: number): Promise<CrdObject | undefined> {
    const current = crdOf(name, timeoutMs);
    const reads: CrdReads = { current, next: undefined };
    this.crdReads.set(name, reads);
    const forget = () => {
      if (this.crdReads.get(name) === reads) this.crdReads.delete(name);
    };
    current.then(forget, forget);
    return current;
  }

  /**
   * Whether the snapshots have caught up with `crd`. They hold established CRDs only: with one
   * that is not, or is gone, once they lack it.
   */
  private caughtUpTest(name: string, crd: CrdObject | undefined): () => boolean {
    const rv = crd && isEstablished(crd) ? parseRv(crd.metadata.resourceVersion) : undefined;
    if (crd && isEstablished(crd) && rv === undefined) return () => true;
    if (rv === undefined) return () => !this.seen.has(name);
    return () => {
      const seen = this.seen.get(name);
      return seen !== undefined && seen >= rv;
    };
  }

  private build(snapshot: CrdSnapshot): GraphQLSchema {
    const started = performance.now();
    const log = this.opts.log;
    const models: ResourceModel[] = [];
    const seen = new Set<string>();
    const modelProblems: string[] = [];
    for (const crd of snapshot.crds) {
      const result = this.model(crd);
      seen.add(crd.metadata.name);
      if (result.ok) models.push(result.model);
      else modelProblems.push(`${result.error.message}; it is not served`);
    }
    for (const name of this.modelCache.keys()) if (!seen.has(name)) this.modelCache.delete(name);
    // Most CRD updates change only status (conditions, storedVersions): the API is the same, so
    // the schema, and everything cached for it (tenant schemas, Apollo instances), stays.
    // Compared model by model: an unchanged CRD keeps its model (cached by resourceVersion), so
    // the content hashes are computed only for the CRDs whose object changed.
    const current = { models, problems: modelProblems.join('|') };
    if (this.schema && this.last && sameModels(this.last, current)) {
      this.stats.unchanged++;
      return this.schema;
    }
    this.last = current;
    let problems = modelProblems.length;
    for (const p of modelProblems) log?.warn(p);
    const built = this.builder.build(models);
    if (this.builder.lastBuild === 'full') {
      // The bookkeeping that makes the next change fast (~1.5 s of CPU at 1,000 CRDs) is done in
      // slices of ~10 ms, one per turn of the event loop, so that requests are served in between.
      const builder = this.builder;
      runInSlices((shouldYield) => builder.prepareIncrementalSlice(shouldYield), {
        onError: (error) => log?.warn(`preparing the next schema change failed: ${(error as Error).message}`),
      });
    }
    for (const p of built.problems) {
      problems++;
      log?.warn(`CRD ${p.crdName} is not served: ${p.message}`);
    }
    const previous = this.schema;
    this.schema = built.schema;
    this.builtResources = built.resources;
    this.endChangedSubscriptions(built.resources, snapshot.crds);
    this.stats.rebuilds++;
    this.stats.lastDurationMs = performance.now() - started;
    this.stats.crds = built.resources.length;
    this.stats.problems = problems;
    if (previous && this.opts.reportBreakingChanges !== false) this.reportChanges(previous, built.schema);
    for (const l of this.listeners) l(built.schema);
    log?.info(`schema ${previous ? 'rebuilt' : 'built'}: ${built.resources.length} custom resource(s) in ${this.stats.lastDurationMs.toFixed(1)} ms`);
    return built.schema;
  }

  private model(crd: CrdObject): ModelResult {
    const name = crd.metadata.name;
    const rv = crd.metadata.resourceVersion;
    const cached = this.modelCache.get(name);
    if (cached && cached.rv === rv && rv !== undefined) return cached.result;
    // List items come without apiVersion and kind; the model checks both.
    const result = tryCrdToModel({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', ...crd });
    this.modelCache.set(name, { rv, result });
    return result;
  }

  /**
   * Why a subscriber checked against `servedAs` (a resource model) before it reached the hub may
   * not watch `key` now: the version is no longer served, or its API changed since that model was
   * current, as for the subscribers the rebuild ended (endChangedSubscriptions).
   */
  private refusal(key: WatchKey, servedAs: object | undefined): ApiError | undefined {
    if (servedAs === undefined || !this.schema) return undefined;
    const now = this.served.get(`${key.group}/${key.version}/${key.plural}`);
    if (now?.accepted.has(servedAs)) return undefined;
    return schemaChanged(key.group, key.version, key.plural, now === undefined ? 'is no longer served' : 'changed its schema');
  }

  /**
   * Why a subscriber whose selection reads these types (of other resources' versions, as its
   * schema had them) may not start now: one of those versions changed since, as closeReading
   * tells the subscribers already running.
   */
  private relatedRefusal(types: readonly object[] | undefined): ApiError | undefined {
    if (!types?.length || !this.schema) return undefined;
    for (const type of types) {
      const source = versionTypeSource(type);
      if (source === undefined) continue;
      const { resource, version } = source;
      const now = this.served.get(`${resource.group}/${version}/${resource.plural}`);
      if (now?.accepted.has(resource)) continue;
      const why = now === undefined ? 'is no longer served' : 'changed its schema';
      return readerChanged(resource.group, version, resource.plural, why);
    }
    return undefined;
  }

  /** Ends hub subscriptions on resource versions that are no longer served or whose schema changed. */
  private endChangedSubscriptions(resources: readonly ResourceModel[], crds: readonly CrdObject[]): void {
    const crdOf = new Map(crds.map((c) => [c.metadata.name, c]));
    const next = new Map<string, ServedVersion>();
    for (const model of resources) {
      const crd = crdOf.get(model.crdName);
      for (const v of model.versions) {
        if (!v.served) continue;
        const id = `${model.group}/${v.name}/${model.plural}`;
        const now: ServedVersion = { model, crd, version: v.name, accepted: new WeakSet([model]) };
        const before = this.served.get(id);
        // The same API: the models it has had since it last changed all stay current.
        if (before !== undefined && sameServedVersion(before, now)) now.accepted = before.accepted.add(model);
        next.set(id, now);
      }
    }
    const hub = this.opts.hub;
    if (hub) {
      // Subscriptions of other resources whose selections read this version's type (through a
      // relation field): validated against it too, they end with its subscribers.
      const readers = new Map<string, ApiError>();
      for (const [id, before] of this.served) {
        const now = next.get(id);
        if (now !== undefined && now.accepted === before.accepted) continue;
        const [group, version, plural] = id.split('/') as [string, string, string];
        const why = now === undefined ? 'is no longer served' : 'changed its schema';
        const n = hub.closeWhere((k) => k.group === group && k.version === version && k.plural === plural, schemaChanged(group, version, plural, why));
        if (n) this.opts.log?.info(`ended ${n} subscription(s) on ${plural}.${group} ${version}: it ${why}`);
        readers.set(resourceTypeName(before.model, version, []), readerChanged(group, version, plural, why));
      }
      const n = hub.closeReading(readers);
      if (n) this.opts.log?.info(`ended ${n} subscription(s) that read ${[...readers.keys()].join(', ')} through relation fields: their API changed`);
    }
    this.served = next;
  }

  /**
   * Logs what the change from `before` to `after` breaks, after the reports queued before it: off
   * the rebuild, in slices (breaking-changes.ts), so that requests are served meanwhile.
   */
  private reportChanges(before: GraphQLSchema, after: GraphQLSchema): void {
    this.reported = this.reported.then(async () => {
      try {
        const line = breakingChangesLine(await breakingChanges(before, after));
        if (line !== undefined) this.opts.log?.warn(line);
      } catch (err) {
        this.opts.log?.warn(`could not compare the schema with the previous one: ${(err as Error).message}`);
      }
    });
  }

  /** Resolves once the breaking changes of every rebuild so far are logged. */
  whenReported(): Promise<void> {
    return this.reported;
  }
}

/** The same CRDs in the same order, each of the same content and age, with the same problems: the schema stays. */
function sameModels(a: { models: readonly ResourceModel[]; problems: string }, b: { models: readonly ResourceModel[]; problems: string }): boolean {
  if (a.problems !== b.problems || a.models.length !== b.models.length) return false;
  return a.models.every((m, i) => {
    const other = b.models[i]!;
    return m.creationTimestamp === other.creationTimestamp && sameContent(m, other);
  });
}

type CrdOf = NonNullable<LiveSchemaOptions['crdOf']>;

/** A CRD's GET in flight, and the one that follows it for the 404s that came meanwhile. */
interface CrdReads {
  readonly current: Promise<CrdObject | undefined>;
  next: Promise<CrdObject | undefined> | undefined;
}

const noop = () => {};

interface ServedVersion {
  readonly model: ResourceModel;
  /** Absent only when a snapshot lacks the CRD a model was built from: then any change counts. */
  readonly crd: CrdObject | undefined;
  readonly version: string;
  /**
   * The models this version's API has had since it last changed: subscribers checked against one
   * go on, as do those whose selections read a type built from one (relatedTypesAs).
   */
  accepted: WeakSet<object>;
}

function readerChanged(group: string, version: string, plural: string, why: string): ApiError {
  return new ApiError('SCHEMA_CHANGED',
    `${plural}.${group} ${version}, whose objects this subscription reads through a relation field, ${why}; ` +
      'subscribe again against the current schema');
}

function schemaChanged(group: string, version: string, plural: string, why: string): ApiError {
  return new ApiError('SCHEMA_CHANGED', `${plural}.${group} ${version} ${why}; subscribe again against the current schema`);
}

/**
 * Whether a version's subscribers see the same API: the same CRD content, or (only computed when
 * the CRD changed) the same of what that version's subscribers depend on.
 */
function sameServedVersion(before: ServedVersion, now: ServedVersion): boolean {
  if (sameContent(before.model, now.model)) return true;
  if (!before.crd || !now.crd) return false;
  return sameApiOf({ crd: before.crd, model: before.model }, { crd: now.crd, model: now.model }, now.version);
}
