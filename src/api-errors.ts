// The error catalog of the API: every failure a client can see, with a stable code, the HTTP status
// the REST facade answers with, and how a Kubernetes Status maps onto it. GraphQL errors
// (extensions.code) and RFC 9457 problem responses are both rendered from an ApiError, so the two
// facades never disagree about what went wrong.
import { GraphQLError } from 'graphql';
import { KubeApiError, type KubeStatus } from './kube/kube-client.ts';
import { callerText } from './kube/internal-addresses.ts';

export const ApiErrorCode = {
  BAD_REQUEST: 'BAD_REQUEST',
  /** A GraphQL argument or variable of the right type with a wrong value (Apollo's own code for the same). */
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  ALREADY_EXISTS: 'ALREADY_EXISTS',
  CONFLICT: 'CONFLICT',
  GONE: 'GONE',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  /** The request's Accept header allows no media type the endpoint answers in. */
  NOT_ACCEPTABLE: 'NOT_ACCEPTABLE',
  INVALID: 'INVALID',
  TOO_MANY_REQUESTS: 'TOO_MANY_REQUESTS',
  INTERNAL: 'INTERNAL',
  UNAVAILABLE: 'UNAVAILABLE',
  TIMEOUT: 'TIMEOUT',
  CANCELLED: 'CANCELLED',
  /** A subscriber that could not keep up with its change feed was disconnected. */
  SLOW_CONSUMER: 'SLOW_CONSUMER',
  /** The resource a subscription watches was removed from the schema (CRD deleted or version no longer served). */
  SCHEMA_CHANGED: 'SCHEMA_CHANGED',
} as const;
export type ApiErrorCode = (typeof ApiErrorCode)[keyof typeof ApiErrorCode];

const httpStatusOf: Record<ApiErrorCode, number> = {
  BAD_REQUEST: 400,
  BAD_USER_INPUT: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  ALREADY_EXISTS: 409,
  CONFLICT: 409,
  GONE: 410,
  UNSUPPORTED_MEDIA_TYPE: 415,
  NOT_ACCEPTABLE: 406,
  INVALID: 422,
  TOO_MANY_REQUESTS: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  TIMEOUT: 504,
  // nginx's "client closed request": nobody is left to read it, but logs and metrics are.
  CANCELLED: 499,
  SLOW_CONSUMER: 503,
  SCHEMA_CHANGED: 410,
};

const badRequestStatusOf: Record<string, { status: number; title: string }> = {
  RequestEntityTooLarge: { status: 413, title: 'Payload too large' },
  RequestHeaderFieldsTooLarge: { status: 431, title: 'Request header fields too large' },
  RequestTimeout: { status: 408, title: 'Request timeout' },
};

const titles: Record<ApiErrorCode, string> = {
  BAD_REQUEST: 'Bad request',
  BAD_USER_INPUT: 'Bad input',
  UNAUTHENTICATED: 'Not authenticated',
  FORBIDDEN: 'Forbidden',
  NOT_FOUND: 'Not found',
  METHOD_NOT_ALLOWED: 'Method not allowed',
  ALREADY_EXISTS: 'Already exists',
  CONFLICT: 'Conflict',
  GONE: 'Gone',
  UNSUPPORTED_MEDIA_TYPE: 'Unsupported media type',
  NOT_ACCEPTABLE: 'Not acceptable',
  INVALID: 'Invalid',
  TOO_MANY_REQUESTS: 'Too many requests',
  INTERNAL: 'Internal error',
  UNAVAILABLE: 'Service unavailable',
  TIMEOUT: 'Timeout',
  CANCELLED: 'Cancelled',
  SLOW_CONSUMER: 'Slow consumer',
  SCHEMA_CHANGED: 'Schema changed',
};

/** One cause of an INVALID error: the Kubernetes field, and where it is in the GraphQL input. */
export interface ApiErrorCause {
  type?: string;
  message: string;
  /** The field as Kubernetes names it, e.g. spec.replicas or spec.jvm-options.-Xmx. */
  field?: string;
  /** The same field as a GraphQL path (property names mapped to GraphQL names). */
  path?: (string | number)[];
}

export interface ApiErrorDetails {
  /** The Kubernetes Status reason (NotFound, AlreadyExists, Conflict, Invalid, Expired...). */
  reason?: string;
  /** The apiserver's HTTP status, when it answered. */
  kubernetesCode?: number;
  causes?: ApiErrorCause[];
  retryAfterSeconds?: number;
  /** CONFLICT on a write: the object's resourceVersion now, so the client can re-read and retry. */
  currentResourceVersion?: string;
  /** GONE: what the client should do. */
  hint?: string;
  /** SLOW_CONSUMER, UNAVAILABLE of a watch: the resourceVersion of the last event delivered, to resume from. */
  resourceVersion?: string;
  /** BAD_REQUEST from the query limits: what the operation would cost. */
  cost?: number;
  name?: string;
  kind?: string;
  group?: string;
  /** UNAUTHENTICATED and FORBIDDEN from authentication: why the caller was refused (stable). */
  authReason?: AuthReason;
}

/**
 * Why authentication refused a caller. 401: TOKEN_MISSING, TOKEN_MALFORMED, TOKEN_INVALID
 * (signature, algorithm, issuer, audience, key), TOKEN_EXPIRED, TOKEN_NOT_YET_VALID,
 * TOKEN_NO_EXPIRY, TOKEN_LIFETIME, TOKEN_TYPE, CLAIM_MISSING, CLAIM_INVALID, TOKEN_REVIEW (Kubernetes
 * did not authenticate the token), TOKEN_AUDIENCE. 403: NO_TENANT, SYSTEM_IDENTITY,
 * UNSAFE_IDENTITY, TOO_MANY_GROUPS.
 */
export const authReasons = [
  'TOKEN_MISSING', 'TOKEN_MALFORMED', 'TOKEN_INVALID', 'TOKEN_EXPIRED', 'TOKEN_NOT_YET_VALID', 'TOKEN_NO_EXPIRY',
  'TOKEN_LIFETIME', 'TOKEN_TYPE', 'CLAIM_MISSING', 'CLAIM_INVALID', 'TOKEN_REVIEW', 'TOKEN_AUDIENCE',
  'NO_TENANT', 'SYSTEM_IDENTITY', 'UNSAFE_IDENTITY', 'TOO_MANY_GROUPS',
] as const;
export type AuthReason = (typeof authReasons)[number];

export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly details: ApiErrorDetails;

  constructor(code: ApiErrorCode, message: string, details: ApiErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ApiError';
    this.code = code;
    this.details = details;
  }

  get httpStatus(): number {
    // Bad requests whose status says which: a body too large (the gateway's own limit, or the
    // apiserver's on a patch or an object, as Kubernetes answers it), a request line and headers
    // too large, a request too slow to arrive (Node's HTTP parser).
    return this.statedBadRequest()?.status ?? httpStatusOf[this.code];
  }

  get title(): string {
    return this.statedBadRequest()?.title ?? titles[this.code];
  }

  private statedBadRequest(): { status: number; title: string } | undefined {
    if (this.code !== 'BAD_REQUEST') return undefined;
    if (this.details.kubernetesCode === 413) return badRequestStatusOf['RequestEntityTooLarge'];
    return this.details.reason === undefined ? undefined : badRequestStatusOf[this.details.reason];
  }

  /**
   * graphql-js copies `extensions` from the original error when it wraps an error thrown by a
   * resolver or a subscription stream, so an ApiError reaches GraphQL clients with its code.
   */
  get extensions(): Record<string, unknown> {
    const extensions: Record<string, unknown> = { code: this.code, httpStatus: this.httpStatus };
    for (const [k, v] of Object.entries(this.details)) if (v !== undefined) extensions[k] = v;
    return extensions;
  }
}

/** Maps a field path as Kubernetes reports it (spec.items[0].name) to a GraphQL path. */
export type FieldPathMapper = (kubernetesField: string) => (string | number)[] | undefined;

const reasonToCode: Record<string, ApiErrorCode> = {
  BadRequest: 'BAD_REQUEST',
  Unauthorized: 'UNAUTHENTICATED',
  Forbidden: 'FORBIDDEN',
  NotFound: 'NOT_FOUND',
  MethodNotAllowed: 'METHOD_NOT_ALLOWED',
  AlreadyExists: 'ALREADY_EXISTS',
  Conflict: 'CONFLICT',
  Gone: 'GONE',
  Expired: 'GONE',
  UnsupportedMediaType: 'UNSUPPORTED_MEDIA_TYPE',
  Invalid: 'INVALID',
  RequestEntityTooLarge: 'BAD_REQUEST',
  TooManyRequests: 'TOO_MANY_REQUESTS',
  InternalError: 'INTERNAL',
  ServiceUnavailable: 'UNAVAILABLE',
  Timeout: 'TIMEOUT',
  ServerTimeout: 'TIMEOUT',
  Canceled: 'CANCELLED',
};

/**
 * The catalog code of an HTTP status, for answers that carry no code of their own: a Kubernetes
 * answer without a known reason, and the gateway's own responses in logs and metrics. 0 is a
 * request that got no answer at all.
 */
export function codeOfHttpStatus(status: number): ApiErrorCode {
  switch (status) {
    case 0:
      return 'UNAVAILABLE';
    case 400:
    case 413:
      return 'BAD_REQUEST';
    case 401:
      return 'UNAUTHENTICATED';
    case 403:
      return 'FORBIDDEN';
    case 404:
      return 'NOT_FOUND';
    case 405:
      return 'METHOD_NOT_ALLOWED';
    case 409:
      return 'CONFLICT';
    case 410:
      return 'GONE';
    case 406:
      return 'NOT_ACCEPTABLE';
    case 415:
      return 'UNSUPPORTED_MEDIA_TYPE';
    case 422:
      return 'INVALID';
    case 429:
      return 'TOO_MANY_REQUESTS';
    case 499:
      return 'CANCELLED';
    case 502:
    case 503:
      return 'UNAVAILABLE';
    case 504:
      return 'TIMEOUT';
    default:
      return status >= 500 ? 'INTERNAL' : 'BAD_REQUEST';
  }
}

/**
 * Whether a 403 is of the impersonation itself rather than of the caller's request. Kubernetes
 * names the identity it refused to impersonate in the Status details where it can: the legacy
 * check (verb impersonate) as users or groups in the core group, uids or userextras/<key> in
 * authentication.k8s.io; constrained impersonation (verb impersonate:user-info,
 * impersonate:serviceaccount…) as users, groups, serviceaccounts… in authentication.k8s.io. No
 * request of the gateway is for such a resource. Two refusals carry no such details and are told
 * by their wording only: constrained impersonation's check of the target ('cannot
 * impersonate-on:user-info:get resource "crontabs"', details naming the caller's own resource, as
 * the caller's own 403 would), and the legacy check of a service account (serviceaccounts in the
 * core group, a resource the gateway may read). Object and namespace names hold no blanks, so
 * only the apiserver's own phrase matches.
 */
function refusesImpersonation(status: KubeStatus): boolean {
  const kind = status.details?.kind ?? '';
  const group = status.details?.group ?? '';
  if (group === 'authentication.k8s.io' && /^(users|groups|serviceaccounts|uids|userextras)(\/|$)/.test(kind)) return true;
  if (group === '' && (kind === 'users' || kind === 'groups')) return true;
  return impersonationWording.test(status.message ?? '');
}

const impersonationWording = / cannot impersonate(-on)?(:[\w:-]+)? resource /;

/** Turns anything a Kubernetes call threw into an ApiError. */
export function fromKubeError(err: unknown, mapField?: FieldPathMapper): ApiError {
  if (err instanceof ApiError) return err;
  if (!(err instanceof KubeApiError)) {
    return new ApiError('INTERNAL', 'internal error', {}, { cause: err });
  }
  const status: KubeStatus = tooLargeForEtcd(err.status) ?? err.status;
  const code = (status.reason && reasonToCode[status.reason]) || codeOfHttpStatus(err.httpStatus || status.code || 0);
  if (code === 'FORBIDDEN' && refusesImpersonation(status)) {
    // Kubernetes refused the gateway, not the caller: its words name the gateway's identity.
    return new ApiError('UNAVAILABLE', 'the gateway may not act as you: Kubernetes refused it the impersonation of your identity (403); its RBAC needs attention',
      { reason: 'ServiceUnavailable', kubernetesCode: err.httpStatus || 403 }, { cause: err });
  }
  const details: ApiErrorDetails = {
    reason: status.reason,
    kubernetesCode: err.httpStatus || undefined,
    name: status.details?.name,
    kind: status.details?.kind,
    group: status.details?.group,
  };
  if (err.retryAfterSeconds !== undefined) details.retryAfterSeconds = err.retryAfterSeconds;
  // The status of the answer decides whether the apiserver's words may name internal addresses.
  const answered = err.httpStatus || status.code || 0;
  let cut = false;
  const forCaller = (text: string) => {
    const shown = callerText(text, answered);
    if (shown !== text) cut = true;
    return shown;
  };
  const causes = status.details?.causes;
  if (causes?.length) {
    details.causes = causes.map((c) => {
      const cause: ApiErrorCause = { message: forCaller(c.message ?? '') };
      if (c.reason) cause.type = c.reason;
      if (c.field) {
        cause.field = c.field;
        const path = mapField?.(c.field);
        if (path) cause.path = path;
      }
      return cause;
    });
  }
  if (code === 'GONE') {
    details.hint = 'the resourceVersion or continue token is too old: list again from the start, then watch from the new list\'s resourceVersion';
  }
  if (code === 'TOO_MANY_REQUESTS' && details.retryAfterSeconds === undefined) details.retryAfterSeconds = 1;
  const message = forCaller(status.message || titles[code]);
  const error = new ApiError(code, message, details, { cause: err });
  if (cut) cutForCallers.add(error);
  return error;
}

/**
 * An object larger than etcd takes (about 1.5 MB): the apiserver answers 500 InternalError with
 * etcd's words, which would invite a retry that can never succeed. It is the request that is too
 * large: BAD_REQUEST with status 413, as the README says of objects the apiserver does not take.
 */
function tooLargeForEtcd(status: KubeStatus): KubeStatus | undefined {
  if (status.code !== 500 || !/etcdserver: request is too large/.test(status.message ?? '')) return undefined;
  return { ...status, reason: 'RequestEntityTooLarge' };
}

/**
 * Errors whose Kubernetes message was cut for callers (src/kube/internal-addresses.ts): their
 * cause, with the whole message, is logged as an internal error's is.
 */
const cutForCallers = new WeakSet<ApiError>();

/** The error of the chain (this one, then the ApiErrors it wraps) whose message was cut for callers. */
function cutIn(e: unknown): ApiError | undefined {
  for (let c = e; c instanceof ApiError; c = c.cause) if (cutForCallers.has(c)) return c;
  return undefined;
}

/**
 * The HTTP headers an error answer carries, whichever facade sends it: the bearer challenge of
 * a 401 (RFC 6750: with error="invalid_token" only when a token was sent) and the Retry-After of a 429.
 */
export function httpHeadersOf(err: ApiError): Record<string, string> {
  const headers: Record<string, string> = {};
  if (err.code === 'UNAUTHENTICATED' && err.details.authReason === 'TOKEN_MISSING') {
    // RFC 6750 §3.1: a request that carries no credentials at all gets no error code.
    headers['WWW-Authenticate'] = 'Bearer realm="crdgate"';
  } else if (err.code === 'UNAUTHENTICATED') {
    // RFC 6750 allows printable ASCII but " and \ in error_description. The message may repeat a
    // token's header (its kid, its typ): a line break or NUL there would make the header unsendable
    // (500), a character beyond Latin-1 likewise. The body carries the message as it is.
    const description = err.message.replace(/["\\]/g, '').replace(/[^\x20-\x7e]/g, '?');
    headers['WWW-Authenticate'] = `Bearer realm="crdgate", error="invalid_token", error_description="${description}"`;
  }
  if (err.details.retryAfterSeconds !== undefined) headers['Retry-After'] = String(err.details.retryAfterSeconds);
  return headers;
}

/** The GraphQL form: extensions carry the code and every detail, nothing else. */
export function toGraphQLError(err: ApiError, path?: readonly (string | number)[]): GraphQLError {
  return new GraphQLError(err.message, { path, extensions: err.extensions, originalError: err });
}

/** The RFC 9457 problem+json form for the REST facade. */
export function toProblem(err: ApiError, instance?: string): Record<string, unknown> {
  const problem: Record<string, unknown> = {
    type: `urn:crdgate:problem:${err.code.toLowerCase().replace(/_/g, '-')}`,
    title: err.title,
    status: err.httpStatus,
    detail: err.message,
    code: err.code,
  };
  if (instance) problem.instance = instance;
  for (const [k, v] of Object.entries(err.details)) if (v !== undefined) problem[k] = v;
  return problem;
}

/** The Kubernetes Status reason of each code, for errors that did not come with one from Kubernetes. */
const statusReasonOf: Record<ApiErrorCode, string> = {
  BAD_REQUEST: 'BadRequest',
  BAD_USER_INPUT: 'BadRequest',
  UNAUTHENTICATED: 'Unauthorized',
  FORBIDDEN: 'Forbidden',
  NOT_FOUND: 'NotFound',
  METHOD_NOT_ALLOWED: 'MethodNotAllowed',
  ALREADY_EXISTS: 'AlreadyExists',
  CONFLICT: 'Conflict',
  GONE: 'Gone',
  UNSUPPORTED_MEDIA_TYPE: 'UnsupportedMediaType',
  NOT_ACCEPTABLE: 'NotAcceptable',
  INVALID: 'Invalid',
  TOO_MANY_REQUESTS: 'TooManyRequests',
  INTERNAL: 'InternalError',
  UNAVAILABLE: 'ServiceUnavailable',
  TIMEOUT: 'Timeout',
  // Kubernetes has no reason for a request its client gave up; its "unknown" reason is empty.
  CANCELLED: '',
  // A client that fell behind: the watch is unavailable to it; it resumes from the resourceVersion
  // it last saw, as after any watch that ends.
  SLOW_CONSUMER: 'ServiceUnavailable',
  // The resource is no longer served: Gone makes client-go's reflector list again, which says why.
  SCHEMA_CHANGED: 'Gone',
};

/**
 * The metav1.Status form, for where a Kubernetes client expects one (the ERROR event of a JSON
 * watch): the reason Kubernetes gave when it agrees with the code (Expired for GONE; an
 * UNAVAILABLE that wraps another failure keeps its own), else the code's, and the gateway's HTTP
 * status. Its details keep what Kubernetes' StatusDetails can say, and the whole problem document
 * beside it.
 */
export function toKubeStatus(err: ApiError, problem: Record<string, unknown> = toProblem(err)): Record<string, unknown> {
  const d = err.details;
  const details: Record<string, unknown> = {};
  if (d.name !== undefined) details.name = d.name;
  if (d.group !== undefined) details.group = d.group;
  if (d.kind !== undefined) details.kind = d.kind;
  if (d.causes?.length) details.causes = d.causes.map((c) => ({ reason: c.type, message: c.message, field: c.field }));
  if (d.retryAfterSeconds !== undefined) details.retryAfterSeconds = d.retryAfterSeconds;
  details.problem = problem;
  return {
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
    message: err.message, reason: statusReasonFor(err), code: err.httpStatus, details,
  };
}

function statusReasonFor(err: ApiError): string {
  const given = err.details.reason;
  return given !== undefined && reasonToCode[given] === err.code ? given : statusReasonOf[err.code];
}

/**
 * Receives every error a client is about to see; logs the cause of each internal one (INTERNAL
 * from the catalog, or an exception that is neither a catalog nor a GraphQL error, also wrapped
 * in a GraphQLError) once, with the request id. Clients only ever see "internal error". The cause
 * of an error whose Kubernetes message was cut for clients (the addresses a webhook call failed
 * on) is logged too, whatever its code.
 */
export type InternalErrorReporter = (err: unknown, requestId: string | undefined) => void;

const reportedErrors = new WeakSet<object>();

/** The error a GraphQLError wraps (a resolver's or a stream's), or the error itself. */
export function unwrapError(err: unknown): unknown {
  let e = err;
  while (e instanceof GraphQLError && e.originalError) e = e.originalError;
  return e;
}

/** Whether the error is the server's own fault, whose cause must be logged and never shown. */
export function isInternalError(err: unknown): boolean {
  const e = unwrapError(err);
  return e instanceof ApiError ? e.code === 'INTERNAL' : !(e instanceof GraphQLError);
}

export function internalErrorReporter(log: (requestId: string | undefined, cause: unknown, code: ApiErrorCode) => void): InternalErrorReporter {
  return (err, requestId) => {
    const e = unwrapError(err);
    // A cut error may reach callers wrapped (a resume point added to it): its cause is logged all the same.
    const cut = cutIn(e);
    if ((!cut && !isInternalError(e)) || typeof e !== 'object' || e === null || reportedErrors.has(e)) return;
    reportedErrors.add(e);
    const logged = cut ?? e;
    log(requestId, logged instanceof ApiError && logged.cause !== undefined ? logged.cause : logged, e instanceof ApiError ? e.code : 'INTERNAL');
  };
}
