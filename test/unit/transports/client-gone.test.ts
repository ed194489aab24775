// The signal that stops a request's work when its client leaves: also when the client left before
// the signal was made (while the request was authenticated or checked), which a listener added
// then would never hear.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import express from 'express';
import { clientGone } from '../../../src/transports/create-app.ts';

async function signalAfter(delayMs: number, clientLeavesAfterMs: number | undefined): Promise<AbortSignal> {
  const app = express();
  let made: (s: AbortSignal) => void;
  const signal = new Promise<AbortSignal>((resolve) => (made = resolve));
  app.get('/', async (req, res) => {
    await new Promise((r) => setTimeout(r, delayMs));
    const s = clientGone(req, res);
    made(clientGone(req, res) === s ? s : AbortSignal.abort(new Error('not one signal per request')));
    setTimeout(() => res.end('done'), 100);
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const req = request({ port: (server.address() as AddressInfo).port, path: '/' });
  req.on('error', () => {});
  req.on('response', (res) => res.resume());
  req.end();
  if (clientLeavesAfterMs !== undefined) setTimeout(() => req.destroy(), clientLeavesAfterMs);
  const s = await signal;
  await new Promise((r) => setTimeout(r, 150));
  server.close();
  return s;
}

test('a client that left before the signal was made: the signal is aborted already', async () => {
  assert.equal((await signalAfter(150, 30)).aborted, true);
});

test('a client that leaves after: the signal aborts then', async () => {
  const s = await signalAfter(0, 50);
  assert.equal(s.aborted, true);
});

test('a client that stays to the end: the signal never aborts (and every part of the request gets the same one)', async () => {
  assert.equal((await signalAfter(0, undefined)).aborted, false);
});
