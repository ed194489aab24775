import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { namespaceNameProblem, objectNameProblem } from '../../../src/model/kubernetes-names.ts';

describe('names in request paths', () => {
  it('a namespace is a DNS label, as Kubernetes names every namespace', () => {
    for (const ok of ['default', 'kube-system', 'a', '0', 'a'.repeat(63), 'team-a-1']) assert.equal(namespaceNameProblem(ok), undefined, ok);
    for (const bad of ['', '\u0000', 'A', 'a_b', '-a', 'a-', 'a.b', 'a'.repeat(64), '..', ' a', 'ä']) {
      assert.match(namespaceNameProblem(bad) ?? '', /is not a namespace name/, JSON.stringify(bad));
    }
  });

  it('an object name is any path segment but "", "." and "..", without "/" or "%" (Kubernetes\' rule), in well-formed text', () => {
    for (const ok of ['x', 'a.b', 'a..b', 'UPPER', 'with space']) assert.equal(objectNameProblem(ok), undefined, ok);
    // "cache-warmer/scale" would read the scale subresource as if it were the object.
    for (const bad of ['cache-warmer/scale', 'x/status', '/', 'a%2Fscale', '%']) assert.match(objectNameProblem(bad) ?? '', /may not contain "\/" or "%"/, bad);
    assert.match(objectNameProblem('') ?? '', /must not be empty/);
    assert.match(objectNameProblem('.') ?? '', /cannot be a name/);
    assert.match(objectNameProblem('..') ?? '', /cannot be a name/);
    assert.match(objectNameProblem('x\ud800') ?? '', /not valid Unicode/);
  });
});
