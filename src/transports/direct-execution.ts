// GraphQL POSTs that Apollo Server's request pipeline would only execute, executed without it. For
// an operation whose document is kept (src/graphql/document-cache.ts) and valid, on a server whose
// request plugins are the gateway's own pipeline and plugins that do nothing for this request (they
// say so: ApolloExtras.needsPipeline), that pipeline adds nothing to the answer but the plugins'
// checks of the operation, run here with the same arguments, and costs each request about a fifth of a get's CPU in the gateway: a
// SHA-256 of the query (and the crypto module looked up through require for it), an Accept
// negotiation for incremental delivery it never uses here, two copies of the context, and a
// Promise.all over the listeners at each of its hook rounds. Such a request is executed here, by
// the same executor (schema-gateway.ts) on the same schema with the same context, and answered
// with what Apollo would answer: status 200, the media type Apollo chooses, the same JSON.
// An operation whose result has errors (or whose execution throws) is handed to Apollo with its
// outcome, executed once: Apollo formats and reports the errors and sets the status as before. So
// is everything the conditions leave out (GET, a new document, a persisted query, subscriptions, a
// server that is stopping, a request CSRF prevention refuses, a request a plugin's hooks act on),
// and an operation a check refuses, whose refusal Apollo's pipeline answers as its own (without
// running the checks again).
import type { ApolloServer, ApolloServerPlugin, BaseContext } from '@apollo/server';
import type { Request, Response } from 'express';
import type { CallerContext } from '../contract/caller-context.ts';
import { everyRequest, type ApolloExtras, type OperationCheckArgs } from '../plugins/gateway-plugin.ts';
import { noteOperation } from '../plugins/request-outcome.ts';
import { answerType } from './answer-type.ts';
import { answerText, answerToWrite, hideSuggestionsIn, isThenable, withExecuted, withRefusal, type OperationPipeline } from './apollo-pipeline.ts';
import { csrfRefusal } from './csrf-prevention.ts';
import type { SchemaGateway } from './schema-gateway.ts';
import { typedStoredValueErrors } from '../graphql/stored-value-errors.ts';

/**
 * What the direct path made of a request: true when it answered it; a context (carrying the
 * outcome of its operation) or the error of making it, for Apollo to finish the request with;
 * undefined when it did nothing and Apollo runs the request as ever.
 */
export type DirectOutcome = true | { context: BaseContext } | { contextError: unknown } | undefined;

export type DirectPath = (req: Request, res: Response, contextOf: () => BaseContext | Promise<BaseContext>) => Promise<DirectOutcome>;

/** Apollo Server's media type for a single result when the request has no Accept header. */
const defaultType = 'application/json; charset=utf-8';

/**
 * The POST body Apollo reads, when Apollo would take it as it is (runHttpQuery's checks) and without
 * a persisted query: extensions such as Apollo Client's clientLibrary are read by no one else here.
 */
interface PlainBody {
  query: string;
  variables?: Record<string, unknown> | null;
  operationName?: string | null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value);
}

function plainBody(body: unknown): body is PlainBody {
  if (!isRecord(body)) return false;
  const { query, variables, operationName, extensions } = body;
  return typeof query === 'string' && query !== ''
    && (variables === undefined || variables === null || isRecord(variables))
    && (operationName === undefined || operationName === null || typeof operationName === 'string')
    && (extensions === undefined || extensions === null || (isRecord(extensions) && !extensions['persistedQuery']));
}

/**
 * The direct path of an Apollo Server made by newApollo, with the Apollo settings of the gateway's
 * plugins (`extras`): their Apollo plugins may be left out for the requests they do not need
 * (extras.needsPipeline). Whether Apollo runs other request plugins (those Apollo adds itself, such
 * as usage reporting when APOLLO_KEY is set) is read from the started server, at the first request.
 */
export function directPath(apollo: ApolloServer<BaseContext>, gateway: SchemaGateway, pipeline: OperationPipeline, extras: ApolloExtras = {}): DirectPath | undefined {
  const needsPipeline = extras.needsPipeline;
  // A plugin needs Apollo's hooks for every request: no request is taken here.
  if (needsPipeline === everyRequest) return undefined;
  const startOperation = extras.directOperation;
  // Plugins that did not say for which requests they need Apollo's hooks keep every request there.
  const declared: ReadonlySet<ApolloServerPlugin<BaseContext>> = new Set(needsPipeline ? extras.plugins : []);
  let alone: boolean | undefined;
  return async (req, res, contextOf) => {
    const body: unknown = req.body;
    if (alone === false || req.method !== 'POST' || !plainBody(body)) return undefined;
    // Stopping or stopped (Apollo refuses the operation), or not started: Apollo answers.
    try {
      apollo.assertStarted('the direct path');
    } catch {
      return undefined;
    }
    alone ??= pipelineAlone(apollo, pipeline.plugin, declared);
    const accept = req.headers.accept;
    const answer = accept ? answerType(accept) : defaultType;
    if (!alone || answer === undefined || csrfRefusal(req.headers) || needsPipeline?.(req)) return undefined;
    const schema = gateway.current;
    const operationName = body.operationName ?? undefined;
    const found = pipeline.directOperation(schema, body.query, operationName);
    if (!found) return undefined;
    let context: BaseContext;
    try {
      const made = contextOf();
      context = isThenable(made) ? await made : made;
    } catch (contextError) {
      return { contextError };
    }
    // What Apollo executes with: a copy of the context (its cloneObject), marked by the pipeline.
    const executing = Object.assign(Object.create(Object.getPrototypeOf(context) as object) as BaseContext, context);
    if (pipeline.hideSuggestions) hideSuggestionsIn(executing);
    const type = found.operation.operation;
    noteOperation(res, type, found.operation.name?.value);
    // What the plugins' Apollo hooks do for the operation (tracing's span), done here.
    const done = startOperation?.({ context: executing, type, name: found.operation.name?.value });
    const variables = isRecord(body.variables) ? body.variables : undefined;
    // A refusal goes to Apollo's pipeline with the context, marked with it: Apollo answers it as
    // its own refusal, without running the checks again.
    const refused = refusalOf(pipeline, { schema, document: found.document, source: body.query, operationName: found.operation.name?.value || null, variables, context: executing as CallerContext });
    if (refused) return { context: withRefusal(context, refused) };
    let result;
    try {
      result = typedStoredValueErrors(await gateway.execute(schema, found.document, executing, variables, operationName));
    } catch (error) {
      return { context: withExecuted(context, { error }) };
    }
    if (result.errors) return { context: withExecuted(context, { result }) };
    let text: string;
    try {
      // Apollo's orderExecutionResultFields: errors, data, extensions (an absent one is left out).
      text = answerText({ errors: undefined, data: result.data, extensions: result.extensions });
    } catch {
      // A result that does not serialize: Apollo's answer to that (its stringifyResult throws the same way).
      return { context: withExecuted(context, { result }) };
    }
    done?.();
    res.setHeader('content-type', answer);
    res.statusCode = 200;
    res.end(answerToWrite(text));
    return true;
  };
}

/**
 * What the plugins' checks refuse the operation with, if they refuse it. They get what they get in
 * Apollo's pipeline (apollo-pipeline.ts): its operation's name as Apollo resolves it (null when it
 * has none), the request's variables object, the copy of the context the operation executes with.
 */
function refusalOf(pipeline: OperationPipeline, args: OperationCheckArgs): { error: unknown } | undefined {
  if (!pipeline.check) return undefined;
  try {
    pipeline.check(args);
    return undefined;
  } catch (error) {
    return { error };
  }
}

/**
 * Whether every plugin of the started server that hooks requests is the pipeline or one of the
 * gateway's plugins that say for which requests they need its hooks (`declared`).
 */
function pipelineAlone(apollo: ApolloServer<BaseContext>, pipeline: ApolloServerPlugin<BaseContext>, declared: ReadonlySet<ApolloServerPlugin<BaseContext>>): boolean {
  const plugins = (apollo as unknown as { internals?: { plugins?: readonly ApolloServerPlugin<BaseContext>[] } }).internals?.plugins;
  return Array.isArray(plugins) && plugins.includes(pipeline)
    && plugins.every((p) => p === pipeline || p.requestDidStart === undefined || declared.has(p));
}
