// aep-edge for Node.js: a thin binding of the aep-edge C ABI over koffi.
//
//   const { Client, EdgeError } = require('aep-edge');
//   const client = new Client({ datastreamId: 'YOUR_DATASTREAM_ID' });
//   try {
//     const result = await client.interact({ event: { xdm: {} } });   // a Promise
//     console.log(result.handle);
//   } catch (e) {
//     if (e instanceof EdgeError) console.log(e.kind, e.httpStatus, e.code);
//   }
//   await client.close();
//
// Requests and configs are objects (or JSON strings); results are parsed
// objects. The promise forms run the blocking C call on one of koffi's worker
// threads, so the event loop never waits on the network; the *Sync forms block.
// The library is loaded from AEP_EDGE_LIB, else as libaep_edge.so.1.
'use strict';

const koffi = require('koffi');

const lib = koffi.load(process.env.AEP_EDGE_LIB || 'libaep_edge.so.1');

const stringFree = lib.func('void aep_edge_string_free(void *s)');
// Every string the library returns is read, then released with aep_edge_string_free.
koffi.disposable('AepString', 'str', stringFree);
koffi.opaque('aep_edge_client');

const c = {
  version: lib.func('const char *aep_edge_version(void)'),
  abiVersion: lib.func('uint32_t aep_edge_abi_version(void)'),
  clientNew: lib.func(
    'uint32_t aep_edge_client_new(const char *config, _Out_ aep_edge_client **client, _Out_ AepString *error)'),
  clientClose: lib.func(
    'uint32_t aep_edge_client_close(aep_edge_client *client, uint32_t timeout_ms, _Out_ AepString *report)'),
  clientFree: lib.func('void aep_edge_client_free(aep_edge_client *client)'),
  interact: lib.func(
    'uint32_t aep_edge_interact(const aep_edge_client *client, const char *request, _Out_ AepString *result)'),
  collect: lib.func(
    'uint32_t aep_edge_collect(const aep_edge_client *client, const char *request, _Out_ AepString *result)'),
  setConsent: lib.func(
    'uint32_t aep_edge_set_consent(const aep_edge_client *client, const char *request, _Out_ AepString *result)'),
  sessionGet: lib.func('uint32_t aep_edge_session_get(const aep_edge_client *client, _Out_ AepString *result)'),
  sessionReset: lib.func('uint32_t aep_edge_session_reset(const aep_edge_client *client, _Out_ AepString *error)'),
  setAccessToken: lib.func(
    'uint32_t aep_edge_client_set_access_token(const aep_edge_client *client, const char *token, _Out_ AepString *error)'),
};

/** Status numbers of aep_edge.h; a number not listed is still a failure. */
const Status = Object.freeze({
  OK: 0, NULL_ARGUMENT: 1, INVALID_UTF8: 2, INVALID_JSON: 3, INVALID_CONFIG: 4,
  INVALID_REQUEST: 5, TRANSPORT_ERROR: 6, TIMEOUT: 7, HTTP_ERROR: 8, AUTH_ERROR: 9,
  INVALID_RESPONSE: 10, QUEUE_FULL: 11, CLOSED: 12, STORAGE_ERROR: 13,
  CONSENT_DENIED: 14, NOT_READY: 15, PANIC: 99,
});

/** Every failure of the library: the status and the error object's facts. */
class EdgeError extends Error {
  constructor(status, json) {
    let body = {};
    try { body = (JSON.parse(json || '{}').error) || {}; } catch { body = { message: json }; }
    super(body.message || `aep-edge status ${status}`);
    this.name = 'EdgeError';
    this.status = status;
    this.kind = body.kind || 'unknown';
    this.httpStatus = body.httpStatus ?? null;
    this.code = body.code ?? null;
    this.problem = body.problem ?? null;
    this.retryable = Boolean(body.retryable);
    this.retryAfterMs = body.retryAfterMs ?? null;
    this.requestId = body.requestId ?? null;
    this.attempts = body.attempts ?? 0;
  }
}

// The one place a status becomes a JavaScript error.
function check(status, out) {
  if (status !== Status.OK) throw new EdgeError(status, out);
  return out;
}

const text = (value) => (typeof value === 'string' ? value : JSON.stringify(value));
const closedError = () => new EdgeError(Status.CLOSED, '{"error":{"kind":"closed","message":"the client was closed"}}');

// A forgotten client is freed when collected; close() is the way to finish.
const finalizer = new FinalizationRegistry((handle) => c.clientFree(handle));

class Client {
  /** @param config the config object or JSON (design.md §3.1); throws EdgeError when refused. */
  constructor(config) {
    const handle = [null];
    const error = [null];
    check(c.clientNew(text(config), handle, error), error[0]);
    this._handle = handle[0];
    this._pending = new Set();
    finalizer.register(this, this._handle, this);
  }

  _live() {
    if (!this._handle) throw closedError();
    return this._handle;
  }

  _sync(fn, request) {
    const out = [null];
    return JSON.parse(check(fn(this._live(), text(request), out), out[0]));
  }

  // Runs fn on a koffi worker thread. The promise holds the client, so it is
  // neither collected nor freed by close() while the call runs.
  _async(fn, request) {
    let handle;
    try { handle = this._live(); } catch (e) { return Promise.reject(e); }
    const out = [null];
    const call = new Promise((resolve, reject) => {
      fn.async(handle, text(request), out, (err, status) => {
        if (err) return reject(err);
        try { resolve(JSON.parse(check(status, out[0]))); } catch (e) { reject(e); }
      });
    });
    this._pending.add(call);
    const done = () => this._pending.delete(call);
    call.then(done, done);
    return call;
  }

  /** POST /ee/v2/interact: resolves to the result, rejects with EdgeError. */
  interact(request) { return this._async(c.interact, request); }
  /** POST /ee/v2/collect at once. */
  collect(request) { return this._async(c.collect, request); }
  /** POST /ee/v1/privacy/set-consent. */
  setConsent(request) { return this._async(c.setConsent, request); }

  interactSync(request) { return this._sync(c.interact, request); }
  collectSync(request) { return this._sync(c.collect, request); }
  setConsentSync(request) { return this._sync(c.setConsent, request); }

  /** The session view (ECID, location hint, consent, state entries). */
  session() {
    const out = [null];
    return JSON.parse(check(c.sessionGet(this._live(), out), out[0]));
  }
  /** Forgets the visitor (kiosk: the next one starts fresh). */
  resetSession() {
    const out = [null];
    check(c.sessionReset(this._live(), out), out[0]);
  }
  /** Replaces the static token of token auth. */
  setAccessToken(token) {
    const out = [null];
    check(c.setAccessToken(this._live(), token, out), out[0]);
  }

  /**
   * Refuses new calls, stops retries, waits up to timeoutMs for calls in
   * flight, then frees the client (once the last of them has returned, even
   * after a timeout). Never blocks the event loop. Resolves to
   * {inFlight, waitedMs, timedOut}. Idempotent.
   */
  async close(timeoutMs = 5000) {
    if (!this._handle) return { inFlight: 0, waitedMs: 0, timedOut: false };
    const handle = this._handle;
    const started = Date.now();
    // With timeout 0 the library refuses new calls and ends waits and retries
    // at once, without blocking: the calls in flight are ours to wait for.
    const out = [null];
    const status = c.clientClose(handle, 0, out);
    this._handle = null;
    finalizer.unregister(this);
    if (status !== Status.OK && status !== Status.TIMEOUT) {
      Promise.allSettled([...this._pending]).then(() => c.clientFree(handle));
      throw new EdgeError(status, out[0]);
    }
    const calls = Promise.allSettled([...this._pending]);
    let timer;
    const finished = await Promise.race([
      calls.then(() => true),
      new Promise((resolve) => { timer = setTimeout(resolve, Math.max(0, timeoutMs), false); }),
    ]);
    clearTimeout(timer);
    const inFlight = finished ? 0 : this._pending.size;
    // Free only after every call using the handle has returned.
    calls.then(() => c.clientFree(handle));
    return { inFlight, waitedMs: Date.now() - started, timedOut: !finished };
  }

  get closed() { return !this._handle; }
}

module.exports = {
  Client,
  EdgeError,
  Status,
  version: () => c.version(),
  abiVersion: () => c.abiVersion(),
};
