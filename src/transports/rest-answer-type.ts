// The media type a REST answer is written in, negotiated from the request's Accept header: JSON or
// YAML for objects and lists; for a watch, Server-Sent Events or Kubernetes' JSON watch stream.
import { LRUCache } from 'lru-cache';
import Negotiator from 'negotiator';

/** What the facade writes objects and lists in. */
export const answerTypes = ['application/json', 'application/yaml', 'text/yaml', 'application/x-yaml'];
/**
 * What it writes a watch in: SSE first, so that an Accept of any type (curl's) keeps getting it;
 * JSON when the client prefers it, as Kubernetes' clients do (application/json,
 * application/json;stream=watch).
 */
export const watchTypes = ['text/event-stream', 'application/json'];

/** Accept header values (per kind of answer) → the type chosen ('' for none); bounded, as clients choose the values. */
const chosenTypes = new LRUCache<string, string>({ max: 64 });

/**
 * The type the Accept header chooses among those the facade writes; without one, JSON (a watch:
 * SSE, as before there was a choice). Undefined when it accepts none of them.
 */
export function restAnswerType(accept: string | undefined, watch: boolean): string | undefined {
  if (accept === undefined || accept === '') return watch ? 'text/event-stream' : 'application/json';
  const key = `${watch ? 'w' : 'a'}${accept}`;
  let chosen = chosenTypes.get(key);
  if (chosen === undefined) {
    chosen = new Negotiator({ headers: { accept: withoutParameters(accept) } }).mediaType(watch ? watchTypes : answerTypes) ?? '';
    chosenTypes.set(key, chosen);
  }
  return chosen || undefined;
}

/**
 * An Accept header without the parameters of its media ranges but q (charset=utf-8, Kubernetes'
 * stream=watch or as=Table): the negotiator would match a range with parameters only to a type
 * offered with the same ones, and the facade's answers are these types whatever the parameters.
 */
function withoutParameters(accept: string): string {
  return accept.split(',').map((range) => {
    const [type, ...params] = range.split(';');
    const q = params.find((p) => /^\s*q\s*=/i.test(p));
    return q === undefined ? type!.trim() : `${type!.trim()};${q.trim()}`;
  }).join(', ');
}
