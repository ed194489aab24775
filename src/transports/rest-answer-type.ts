// The media type a REST answer is written in, negotiated from the request's Accept header: JSON or
// YAML for objects and lists; for a watch, Server-Sent Events or Kubernetes' JSON watch stream.
import { LRUCache } from 'lru-cache';
import Negotiator from 'negotiator';

/** What the facade writes objects and lists in. */
export const answerTypes = ['application/json', 'application/yaml', 'text/yaml', 'application/x-yaml'];
/**
 * What it writes a watch in: Kubernetes' JSON watch stream first, as the apiserver answers a watch
 * that names no type (client libraries name none or any: the JavaScript client's Watch sends
 * fetch's default Accept of any type, client-go and the Python client application/json);
 * Server-Sent Events to a client that prefers them (EventSource and the SSE libraries send
 * text/event-stream).
 */
export const watchTypes = ['application/json', 'text/event-stream'];

/** Accept header values (per kind of answer) → the type chosen ('' for none); bounded, as clients choose the values. */
const chosenTypes = new LRUCache<string, string>({ max: 64 });

/**
 * The type the Accept header chooses among those the facade writes; without one, JSON. Undefined
 * when it accepts none of them.
 */
export function restAnswerType(accept: string | undefined, watch: boolean): string | undefined {
  if (accept === undefined || accept === '') return 'application/json';
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
