// Subscribers of one resource get the same event objects from the shared watch, and many of them
// send the same operation. Subscribers of the same operation (schema, document, operation name,
// variables) form a group; the group executes its selection set once per event and serializes
// the result once, and a transport writes those bytes to every member's connection, after each
// member's own frame prefix. The cost of an event is then one execution per distinct operation
// plus one socket write per subscriber.
//
// A selection is shared only when no field in it depends on the caller: a field whose resolver
// reads the caller's context (a relation listed as the caller, say) is marked
// `extensions: { callerDependent: true }` by its builder, and an operation selecting one gets a
// group of its own per subscriber.
import {
  execute, TypeInfo, visit, visitWithTypeInfo, type DocumentNode, type ExecutionArgs, type ExecutionResult, type GraphQLError,
  type GraphQLSchema,
} from 'graphql';
import { stringifyJson } from '../kube/lossless-json.ts';
import { ownedBytes } from '../owned-bytes.ts';
import { typedStoredValueErrors } from './stored-value-errors.ts';

export const sharedResultStats = { executed: 0, shared: 0, serialized: 0 };

/** Recent payloads a group keeps: members catching up at different places in the stream still share most. */
const maxPayloadsPerGroup = 16;

export interface SharedSelectionsOptions {
  /** The errors of a result as the client gets them (default: GraphQLError#toJSON). */
  formatErrors?(errors: readonly GraphQLError[], args: ExecutionArgs): unknown[];
}

export type Payload = Buffer | Promise<Buffer>;

/** One group: an operation and the recent payloads of its events. */
export class SharedSelection {
  private readonly args: ExecutionArgs;
  private readonly opts: SharedSelectionsOptions;
  private readonly payloads = new Map<object, Payload>();
  private readonly onIdle: () => void;
  private members = 0;

  constructor(args: ExecutionArgs, opts: SharedSelectionsOptions, onIdle: () => void) {
    this.args = args;
    this.opts = opts;
    this.onIdle = onIdle;
  }

  join(): void {
    this.members++;
  }

  leave(): void {
    if (--this.members === 0) this.onIdle();
  }

  /** The serialized result (`{"data":…}`) of the operation for this event, executed once for the group. */
  payloadOf(event: object): Payload {
    const hit = this.payloads.get(event);
    if (hit) {
      sharedResultStats.shared++;
      return hit;
    }
    sharedResultStats.executed++;
    const result = execute({ ...this.args, rootValue: event });
    const payload = result instanceof Promise ? result.then((r) => this.serialize(r)) : this.serialize(result);
    this.payloads.set(event, payload);
    if (this.payloads.size > maxPayloadsPerGroup) this.payloads.delete(this.payloads.keys().next().value!);
    return payload;
  }

  private serialize(executed: ExecutionResult): Buffer {
    sharedResultStats.serialized++;
    const result = typedStoredValueErrors(executed);
    const errors = result.errors?.length ? (this.opts.formatErrors?.(result.errors, this.args) ?? result.errors.map((e) => e.toJSON())) : undefined;
    return ownedBytes(stringifyJson(errors ? { ...result, errors } : result));
  }
}

/** The groups of a server: join() finds or makes the group of an operation. */
export class SharedSelections {
  private readonly groups = new Map<string, SharedSelection>();
  private readonly opts: SharedSelectionsOptions;
  private readonly schemaIds = new WeakMap<GraphQLSchema, number>();
  private readonly shareable = new WeakMap<DocumentNode, boolean>();
  private nextSchemaId = 1;
  private nextPrivate = 1;

  constructor(opts: SharedSelectionsOptions = {}) {
    this.opts = opts;
  }

  get size(): number {
    return this.groups.size;
  }

  /** The group of this operation (`source` is its text); leave() it when the subscription ends. */
  join(args: ExecutionArgs, source: string): SharedSelection {
    let schemaId = this.schemaIds.get(args.schema);
    if (schemaId === undefined) this.schemaIds.set(args.schema, (schemaId = this.nextSchemaId++));
    let key = `${schemaId}\u0000${args.operationName ?? ''}\u0000${stringifyJson(args.variableValues ?? {})}\u0000${source}`;
    if (!this.isShareable(args.schema, args.document)) key += `\u0000${this.nextPrivate++}`;
    let group = this.groups.get(key);
    if (!group) {
      const created = new SharedSelection(args, this.opts, () => {
        if (this.groups.get(key) === created) this.groups.delete(key);
      });
      this.groups.set(key, (group = created));
    }
    group.join();
    return group;
  }

  private isShareable(schema: GraphQLSchema, document: DocumentNode): boolean {
    let known = this.shareable.get(document);
    if (known === undefined) {
      known = !selectsCallerDependentField(schema, document);
      this.shareable.set(document, known);
    }
    return known;
  }
}

/** Whether any field the document selects is marked as depending on the caller. */
export function selectsCallerDependentField(schema: GraphQLSchema, document: DocumentNode): boolean {
  const typeInfo = new TypeInfo(schema);
  let found = false;
  visit(document, visitWithTypeInfo(typeInfo, {
    Field() {
      if (typeInfo.getFieldDef()?.extensions?.['callerDependent'] === true) found = true;
    },
  }));
  return found;
}
