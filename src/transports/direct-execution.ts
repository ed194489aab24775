// GraphQL POSTs that Apollo Server's request pipeline would only execute, executed without it. For
// an operation whose document is kept (src/graphql/document-cache.ts) and valid, on a server whose
// only request plugin is the gateway's own pipeline and with no plugin checks, that pipeline adds
// nothing to the answer, but costs each request about a fifth of a get's CPU in the gateway: a
// SHA-256 of the query (and the crypto module looked up through require for it), an Accept
// negotiation for incremental delivery it never uses here, two copies of the context, and a
// Promise.all over the listeners at each of its hook rounds. Such a request is executed here, by
// the same executor (schema-gateway.ts) on the same schema with the same context, and answered
// with what Apollo would answer: status 200, the media type Apollo chooses, the same JSON.
// An operation whose result has errors (or whose execution throws) is handed to Apollo with its
// outcome, executed once: Apollo formats and reports the errors and sets the status as before. So
// is everything the conditions leave out (GET, a new document, a persisted query, subscriptions, a
// server that is stopping, a request CSRF prevention refuses).
import type { ApolloServer, ApolloServerPlugin, BaseContext } from '@apollo/server';
import type { Request, Response } from 'express';
import { noteOperation } from '../plugins/request-outcome.ts';
import { answerType } from './answer-type.ts';
import { answerText, answerToWrite, hideSuggestionsIn, isThenable, withExecuted, type OperationPipeline } from './apollo-pipeline.ts';
import { csrfRefusal } from './csrf-prevention.ts';
import type { SchemaGateway } from './schema-gateway.ts';

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
 * The direct path of an Apollo Server made by newApollo, or undefined when its pipeline has work
 * to do for every request: a plugin checks operations. Whether Apollo runs other request plugins
 * (the gateway's plugins' own, or those Apollo adds itself, such as usage reporting when
 * APOLLO_KEY is set) is read from the started server, at the first request.
 */
export function directPath(apollo: ApolloServer<BaseContext>, gateway: SchemaGateway, pipeline: OperationPipeline): DirectPath | undefined {
  if (pipeline.checks) return undefined;
  let alone: boolean | undefined;
  return async (req, res, contextOf) => {
    const body: unknown = req.body;
    if (req.method !== 'POST' || !plainBody(body)) return undefined;
    // Stopping or stopped (Apollo refuses the operation), or not started: Apollo answers.
    try {
      apollo.assertStarted('the direct path');
    } catch {
      return undefined;
    }
    alone ??= pipelineAlone(apollo, pipeline.plugin);
    const accept = req.headers.accept;
    const type = accept ? answerType(accept) : defaultType;
    if (!alone || type === undefined || csrfRefusal(req.headers)) return undefined;
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
    noteOperation(res, found.operation.operation, found.operation.name?.value);
    const variables = isRecord(body.variables) ? body.variables : undefined;
    let result;
    try {
      result = await gateway.execute(schema, found.document, executing, variables, operationName);
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
    res.setHeader('content-type', type);
    res.statusCode = 200;
    res.end(answerToWrite(text));
    return true;
  };
}

/** Whether the pipeline is the only plugin of the started server that hooks requests. */
function pipelineAlone(apollo: ApolloServer<BaseContext>, pipeline: ApolloServerPlugin<BaseContext>): boolean {
  const plugins = (apollo as unknown as { internals?: { plugins?: readonly ApolloServerPlugin<BaseContext>[] } }).internals?.plugins;
  return Array.isArray(plugins) && plugins.includes(pipeline) && plugins.every((p) => p === pipeline || p.requestDidStart === undefined);
}
