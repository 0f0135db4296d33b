// The Node.js binding against the emulator (AEP_EDGE_BASE_URL, --datastream known-ds).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { Client, EdgeError, Status, version, abiVersion } = require('..');

const EVENT = {"event":{"xdm":{"identityMap":{"Email_LC_SHA256":[{"id":"0c7e6a405862e402eb76a70f8a26fc732d07c32931e9fae9ab1582911d2e8a3b","primary":true}]},"eventType":"web.webpagedetails.pageViews","web":{"webPageDetails":{"URL":"https://alloystore.dev/","name":"home-demo-Home Page"}},"timestamp":"2021-08-09T14:09:20.859Z"},"data":{"prop1":"custom value"}}};
const base = process.env.AEP_EDGE_BASE_URL;
assert.ok(base, 'set AEP_EDGE_BASE_URL (bindings/node/test.sh starts an emulator)');
const config = (datastreamId) => ({ datastreamId, baseUrl: base, retry: { baseDelayMs: 10 } });

test('version', () => {
  assert.equal(abiVersion(), 1);
  assert.match(version(), /^\d+\.\d+\.\d+$/);
});

test('interact sends the event and reads the handles', async () => {
  const client = new Client(config('known-ds'));
  const result = await client.interact(EVENT);
  assert.equal(result.client.httpStatus, 200);
  const types = result.handle.map((h) => h.type);
  assert.ok(types.includes('state:store'), types.join());
  assert.ok(types.includes('identity:result'), types.join());
  assert.match(client.session().ecid, /^\d+$/);
  client.resetSession();
  assert.equal(client.session().ecid, null);
  assert.equal(client.interactSync(EVENT).client.httpStatus, 200);
  const report = await client.close();
  assert.equal(report.inFlight, 0);
  assert.equal(report.timedOut, false);
});

test('an unknown datastream rejects with a typed HTTP error', async () => {
  const client = new Client(config('no-such-datastream'));
  await assert.rejects(client.interact(EVENT), (e) => {
    assert.ok(e instanceof EdgeError);
    assert.equal(e.status, Status.HTTP_ERROR);
    assert.equal(e.kind, 'http');
    assert.equal(e.httpStatus, 400);
    assert.equal(e.code, 'EXEG-0003-400');
    assert.ok(e.requestId);
    return true;
  });
  assert.throws(() => client.interactSync(EVENT), { code: 'EXEG-0003-400' });
  await client.close();
});

test('refused config and request', async () => {
  assert.throws(() => new Client({ datastreamId: 'd', colour: 1 }),
    (e) => e instanceof EdgeError && e.kind === 'invalid_config' && /colour/.test(e.message));
  const client = new Client(config('known-ds'));
  await assert.rejects(client.interact({ evnt: {} }), { kind: 'invalid_request', httpStatus: null });
  await assert.rejects(client.interact('{not json'), { status: Status.INVALID_JSON });
  await client.close();
});

test('concurrent promises, then close refuses new calls', async () => {
  const client = new Client(config('known-ds'));
  const results = await Promise.all(Array.from({ length: 20 }, () => client.interact(EVENT)));
  assert.ok(results.every((r) => r.client.httpStatus === 200));
  // close while calls are running: they finish (or end closed) before the free.
  const late = Array.from({ length: 4 }, () => client.interact(EVENT).catch((e) => e));
  const report = await client.close(5000);
  assert.equal(report.timedOut, false);
  for (const r of await Promise.all(late)) {
    assert.ok(r instanceof EdgeError ? r.status === Status.CLOSED : r.client.httpStatus === 200);
  }
  assert.ok(client.closed);
  await assert.rejects(client.interact(EVENT), { status: Status.CLOSED });
  assert.throws(() => client.session(), { kind: 'closed' });
  assert.deepEqual(await client.close(), { inFlight: 0, waitedMs: 0, timedOut: false });
});

test('close is bounded while a call waits on a slow answer, and frees after it', async () => {
  // The emulator answers the next request after 1.5 s.
  const fault = await fetch(`${base}/__emulator/faults`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ delayMs: 1500, count: 1 }),
  });
  assert.ok(fault.ok, await fault.text());
  const client = new Client(config('known-ds'));
  const slow = client.interact(EVENT).then((r) => r, (e) => e);
  await new Promise((r) => setTimeout(r, 200));
  const before = Date.now();
  const report = await client.close(100);
  assert.ok(Date.now() - before < 1000, 'close returned within its timeout');
  assert.equal(report.timedOut, true);
  assert.equal(report.inFlight, 1);
  const outcome = await slow;
  assert.ok(outcome instanceof EdgeError ? outcome.status === Status.CLOSED : outcome.client.httpStatus === 200);
});
