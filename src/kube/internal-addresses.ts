// What the gateway's callers may read of a message the apiserver wrote. The apiserver's words reach
// them unchanged (admission denials, validation causes, conflicts...), except where it says how a
// call it made itself failed: to an admission or conversion webhook, or to an aggregated API
// server. There Go's HTTP client names the URL it called (`Post "https://hook.ns.svc:443/validate
// ?timeout=10s": ...`) and its dialer the address (`dial tcp 10.96.0.12:443: connect: connection
// refused`, `dial tcp: lookup hook.ns.svc on 10.96.0.10:53: no such host`): the cluster's internal
// addresses, no business of the gateway's callers, and of no use to them. Such a failure is always
// the apiserver's own (a 5xx answer: a webhook that cannot be called answers 500, an aggregated API
// server 503), never a denial, which a webhook writes for users (4xx): only 5xx answers are cut.
// From the first such phrase on, the text is replaced by a note that the log has it; what failed
// (the webhook's name, the conversion's kind) is said before it and stays.

/**
 * To the end of the text: Go's url.Error (`Post "https://…": …`), net.OpError (`dial tcp …`,
 * `read tcp 10.0.0.5:51234->10.244.1.7:4443: …`, `write tcp …`), a TLS certificate that names the
 * hosts it is valid for (`x509: certificate is valid for …`), and the older proxy's
 * `Trying to reach: 'http://…'`.
 */
const transportFailure = new RegExp([
  String.raw`\b(?:Get|Post|Put|Patch|Delete|Head|Options|GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) "[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^"]*"`,
  String.raw`\b(?:dial|read|write) (?:tcp[46]?|udp[46]?|unix)\b`,
  String.raw`\bx509: `,
  String.raw`\bTrying to reach: '`,
].map((form) => `${form}[\\s\\S]*`).join('|'));

/** What stands in the caller's text for the part that names internal addresses. */
export const LEFT_OUT = '[where to and why: in the gateway\'s log]';

/**
 * The text a caller may read of a message of an apiserver answer with this HTTP status: the same,
 * or cut where a 5xx answer says how the apiserver's own call failed (see above).
 */
export function callerText(text: string, httpStatus: number): string {
  if (httpStatus < 500) return text;
  const found = transportFailure.exec(text);
  return found ? `${text.slice(0, found.index)}${LEFT_OUT}` : text;
}
