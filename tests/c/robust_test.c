/*
 * Lifecycle and robustness tests of the aep-edge C ABI (design.md §3.10), C11.
 *
 * Talks to the emulators started by tests/c/run.sh:
 *   AEP_EDGE_BASE_URL       (argv[1]) an emulator started with --datastream known-ds
 *   AEP_EDGE_AUTH_BASE_URL  (argv[2]) an emulator started with --require-auth
 * Both serve the IMS stand-in at /ims/token/v3. AEP_EDGE_TEST_TIME_SCALE (an
 * integer, default 1) stretches delays and timeouts, for slow runs.
 *
 * What it covers: every kind of wait inside a call ends at close (8 threads
 * stuck in each, then close returns within its timeout + 100 ms and nothing is
 * sent afterwards); a failed identity mint releases its waiters at once; a
 * fork while another thread mints the identity does not hold up the child;
 * callbacks re-entering the library (interact, session_get, set_log_callback,
 * close); a poisoned client answers close; strings modified before free;
 * absurd numbers from the network; the proxy rule; a cut body; token fetches
 * bounded by the deadline; IMS error objects.
 *
 * The last line is "N passed, M failed"; the exit status is non-zero when
 * anything failed. A watchdog ends the program if something hangs.
 */
#define _POSIX_C_SOURCE 200809L

#include "test_util.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define THREADS 8

/* An event with an identity but no ECID or FPID: a device session sends it through the
 * identity gate (asking for the ECID), and the emulator accepts it with session none. */
static const char *EVENT_REQUEST =
    "{\"event\":{\"xdm\":{\"identityMap\":{\"Email_LC_SHA256\":[{\"id\":"
    "\"0c7e6a405862e402eb76a70f8a26fc732d07c32931e9fae9ab1582911d2e8a3b\","
    "\"primary\":true}]},\"eventType\":\"web.webpagedetails.pageViews\","
    "\"web\":{\"webPageDetails\":{\"URL\":\"https://alloystore.dev/\"}}}}}";

static const char *BASE_URL;
static const char *AUTH_BASE_URL;

/* ------------------------------------------------------------------ clients */

/* The config text for OAuth against the IMS stand-in of `base` (malloc'd). */
static char *oauth_extra(const char *base, const char *more) {
    size_t n = strlen(base) + strlen(more) + 256;
    char *extra = malloc(n);
    if (extra == NULL) {
        abort();
    }
    snprintf(extra, n,
             ",\"orgId\":\"C0FFEE@AdobeOrg\",\"auth\":{\"type\":\"oauth\",\"clientId\":\"id\","
             "\"clientSecret\":\"secret\",\"scopes\":\"openid\",\"tokenUrl\":\"%s/ims/token/v3\"}%s",
             base, more);
    return extra;
}

/* Calls interact, checks the status and frees the result. */
static void interact_expect(aep_edge_client *c, aep_edge_status want, const char *needle,
                            int line) {
    char *out = NULL;
    aep_edge_status s = aep_edge_interact(c, EVENT_REQUEST, &out);
    check_at(s == want, "interact status", out, line);
    if (needle != NULL) {
        check_at(has(out, needle), needle, out, line);
    }
    aep_edge_string_free(out);
}
#define INTERACT_EXPECT(c, want, needle) interact_expect((c), (want), (needle), __LINE__)

/* ------------------------------------------------------------------ threads */

struct call {
    pthread_t tid;
    aep_edge_client *client;
    const char *request;
    aep_edge_status status;
    char *json;
    double ended_ms;
};

static void *call_main(void *arg) {
    struct call *k = arg;
    k->status = aep_edge_interact(k->client, k->request, &k->json);
    k->ended_ms = now_ms();
    return NULL;
}

static void start_calls(struct call *calls, int n, aep_edge_client *c) {
    int i;
    memset(calls, 0, sizeof *calls * (size_t)n);
    for (i = 0; i < n; i++) {
        calls[i].client = c;
        calls[i].request = EVENT_REQUEST;
        CHECK(pthread_create(&calls[i].tid, NULL, call_main, &calls[i]) == 0, "pthread_create",
              NULL);
    }
}

static void join_calls(struct call *calls, int n) {
    int i;
    for (i = 0; i < n; i++) {
        pthread_join(calls[i].tid, NULL);
    }
}

static void free_calls(struct call *calls, int n) {
    int i;
    for (i = 0; i < n; i++) {
        aep_edge_string_free(calls[i].json);
    }
}

static int count_status(const struct call *calls, int n, aep_edge_status s) {
    int i, k = 0;
    for (i = 0; i < n; i++) {
        k += calls[i].status == s;
    }
    return k;
}

/* The first call that ended with `s`, for messages. */
static const char *json_of(const struct call *calls, int n, aep_edge_status s) {
    int i;
    for (i = 0; i < n; i++) {
        if (calls[i].status == s) {
            return calls[i].json;
        }
    }
    return n > 0 ? calls[0].json : NULL;
}

/* Closes `c` with `timeout`, checks that close returned within timeout + 100 ms, and
 * returns its status; *closed_at gets the moment it returned. */
static aep_edge_status close_timed(aep_edge_client *c, long timeout, double *closed_at,
                                   char **report) {
    double t0 = now_ms();
    aep_edge_status s = aep_edge_client_close(c, (uint32_t)timeout, report);
    *closed_at = now_ms();
    CHECK(*closed_at - t0 <= (double)(timeout + ms(100)), "close returned within its timeout + 100 ms",
          report ? *report : NULL);
    return s;
}

/* ------------------------------------------------------------------ 1: every wait ends at close */

static void test_close_ends_backoff_waits(void) {
    struct call calls[THREADS];
    aep_edge_client *c;
    char *report = NULL;
    double closed_at;
    int recorded;
    aep_edge_status s;
    current_test = "close ends backoff waits";
    emu_reset(BASE_URL);
    emu_fault(BASE_URL, "{\"count\":8,\"status\":503,\"retryAfter\":\"30\",\"pathContains\":\"/interact\"}");
    c = client_with(BASE_URL, ",\"session\":\"none\",\"retry\":{\"maxAttempts\":3,"
                              "\"baseDelayMs\":10,\"maxDelayMs\":60000}");
    start_calls(calls, THREADS, c);
    CHECK(emu_wait_for(BASE_URL, "\"status\":503", THREADS, ms(5000)), "8 calls were answered 503",
          NULL);
    sleep_ms(ms(100)); /* let them read it and start waiting 30 s */
    s = close_timed(c, ms(2000), &closed_at, &report);
    CHECK_STATUS(s, AEP_EDGE_OK, report);
    aep_edge_string_free(report);
    recorded = emu_count(BASE_URL, "\"method\":");
    join_calls(calls, THREADS);
    CHECK(count_status(calls, THREADS, AEP_EDGE_CLOSED) == THREADS, "every waiting call ended CLOSED",
          json_of(calls, THREADS, AEP_EDGE_OK));
    CHECK(has(calls[0].json, "\"attempts\":1") && has(calls[0].json, "\"httpStatus\":503"),
          "the skipped retry keeps the last failure", calls[0].json);
    sleep_ms(ms(200));
    CHECK(emu_count(BASE_URL, "\"method\":") == recorded && recorded == THREADS,
          "no request after close returned", NULL);
    free_calls(calls, THREADS);
    aep_edge_client_free(c);
}

static void test_close_ends_identity_gate_waits(void) {
    struct call calls[THREADS];
    aep_edge_client *c;
    char *report = NULL;
    double closed_at;
    int recorded, i, prompt = 0;
    aep_edge_status s;
    current_test = "close ends identity gate waits";
    emu_reset(BASE_URL);
    /* The first call (the one minting the identity) hangs; the other 7 wait at the gate. */
    emu_delay(BASE_URL, "/interact", 1, ms(1500));
    c = client_with(BASE_URL, "");
    start_calls(calls, THREADS, c);
    CHECK(emu_wait_for(BASE_URL, "\"method\":", 1, ms(3000)), "the minting call went out", NULL);
    sleep_ms(ms(100));
    CHECK(emu_count(BASE_URL, "\"method\":") == 1, "the others wait for the identity", NULL);
    s = close_timed(c, ms(300), &closed_at, &report);
    CHECK_STATUS(s, AEP_EDGE_TIMEOUT, report);
    CHECK(has(report, "\"inFlight\":1"), "only the call on the wire is in flight", report);
    aep_edge_string_free(report);
    recorded = emu_count(BASE_URL, "\"method\":");
    join_calls(calls, THREADS);
    for (i = 0; i < THREADS; i++) {
        if (calls[i].status == AEP_EDGE_CLOSED && calls[i].ended_ms <= closed_at + (double)ms(100)) {
            prompt++;
        }
    }
    CHECK(prompt == THREADS - 1, "the 7 gate waiters ended CLOSED at close",
          json_of(calls, THREADS, AEP_EDGE_OK));
    CHECK(count_status(calls, THREADS, AEP_EDGE_OK) == 1, "the call on the wire ended with its own outcome",
          NULL);
    for (i = 0; i < THREADS; i++) {
        if (calls[i].status == AEP_EDGE_CLOSED) {
            CHECK(has(calls[i].json, "\"attempts\":0") && has(calls[i].json, "\"requestId\":null"),
                  "nothing sent: attempts 0, requestId null", calls[i].json);
        }
    }
    CHECK(emu_count(BASE_URL, "\"method\":") == recorded && recorded == 1,
          "no request after close returned", NULL);
    free_calls(calls, THREADS);
    aep_edge_client_free(c);
}

static void test_close_ends_token_waits(void) {
    struct call calls[THREADS];
    aep_edge_client *c;
    char *report = NULL, *extra;
    double closed_at;
    aep_edge_status s;
    current_test = "close ends token fetch waits";
    emu_reset(AUTH_BASE_URL);
    emu_delay(AUTH_BASE_URL, "/ims", 1, ms(1500));
    extra = oauth_extra(AUTH_BASE_URL, ",\"session\":\"none\"");
    c = client_with(AUTH_BASE_URL, extra);
    free(extra);
    start_calls(calls, THREADS, c);
    CHECK(emu_wait_for(AUTH_BASE_URL, "/ims/token", 1, ms(3000)), "one token request went out", NULL);
    sleep_ms(ms(100));
    s = close_timed(c, ms(300), &closed_at, &report);
    CHECK_STATUS(s, AEP_EDGE_TIMEOUT, report);
    aep_edge_string_free(report);
    join_calls(calls, THREADS);
    CHECK(count_status(calls, THREADS, AEP_EDGE_CLOSED) == THREADS,
          "all 8 ended CLOSED, the fetching one too once its token came",
          json_of(calls, THREADS, AEP_EDGE_OK));
    CHECK(emu_count(AUTH_BASE_URL, "\"method\":") == 1, "one token request, no Edge request", NULL);
    free_calls(calls, THREADS);
    aep_edge_client_free(c);
}

static void test_close_ends_token_refresh_resend(void) {
    aep_edge_client *c;
    struct call call;
    char *extra;
    double closed_at;
    int edge_before;
    aep_edge_status s;
    current_test = "close stops the re-send after a token refresh";
    emu_reset(AUTH_BASE_URL);
    extra = oauth_extra(AUTH_BASE_URL, ",\"session\":\"none\"");
    c = client_with(AUTH_BASE_URL, extra);
    free(extra);
    INTERACT_EXPECT(c, AEP_EDGE_OK, NULL); /* a token is cached */
    emu_fault(AUTH_BASE_URL,
              "{\"status\":401,\"pathContains\":\"/v2/interact\",\"contentType\":\"application/problem+json\","
              "\"body\":\"{\\\"type\\\":\\\"https://ns.adobe.com/aep/errors/EXEG-0503-401\\\","
              "\\\"status\\\":401,\\\"title\\\":\\\"Token expired\\\"}\"}");
    emu_delay(AUTH_BASE_URL, "/ims", 1, ms(1000));
    start_calls(&call, 1, c);
    CHECK(emu_wait_for(AUTH_BASE_URL, "/ims/token", 2, ms(3000)), "the refresh went out", NULL);
    edge_before = emu_count(AUTH_BASE_URL, "/v2/interact");
    s = close_timed(c, ms(200), &closed_at, NULL);
    CHECK_STATUS(s, AEP_EDGE_TIMEOUT, NULL);
    pthread_join(call.tid, NULL);
    CHECK_STATUS(call.status, AEP_EDGE_CLOSED, call.json);
    CHECK(emu_count(AUTH_BASE_URL, "/v2/interact") == edge_before && edge_before == 2,
          "no re-send after close", NULL);
    aep_edge_string_free(call.json);
    aep_edge_client_free(c);
}

static void test_close_ends_pending_consent_waits(void) {
    struct call calls[THREADS];
    aep_edge_client *c;
    char *report = NULL;
    double closed_at;
    aep_edge_status s;
    current_test = "close ends pending consent waits";
    emu_reset(BASE_URL);
    c = client_with(BASE_URL, ",\"defaultConsent\":\"pending\"");
    start_calls(calls, THREADS, c);
    sleep_ms(ms(200));
    s = close_timed(c, ms(2000), &closed_at, &report);
    CHECK_STATUS(s, AEP_EDGE_OK, report);
    aep_edge_string_free(report);
    join_calls(calls, THREADS);
    CHECK(count_status(calls, THREADS, AEP_EDGE_CLOSED) == THREADS, "every waiting call ended CLOSED",
          json_of(calls, THREADS, AEP_EDGE_OK));
    CHECK(has(calls[0].json, "\"requestId\":null"), "nothing was sent: requestId null", calls[0].json);
    CHECK(emu_count(BASE_URL, "\"method\":") == 0, "nothing was sent", NULL);
    free_calls(calls, THREADS);
    aep_edge_client_free(c);
}

/* ------------------------------------------------------------------ 7: a failed mint releases */

static void test_failed_mint_releases_waiters(void) {
    struct call calls[THREADS];
    aep_edge_client *c;
    char fault[200];
    double t0, took;
    current_test = "a mint without identity releases every waiter";
    emu_reset(BASE_URL);
    /* Every answer is slow and brings no identity. */
    snprintf(fault, sizeof fault,
             "{\"count\":8,\"delayMs\":%ld,\"status\":200,\"body\":\"{\\\"handle\\\":[]}\","
             "\"pathContains\":\"/interact\"}",
             ms(400));
    emu_fault(BASE_URL, fault);
    c = client_with(BASE_URL, "");
    t0 = now_ms();
    start_calls(calls, THREADS, c);
    join_calls(calls, THREADS);
    took = now_ms() - t0;
    CHECK(count_status(calls, THREADS, AEP_EDGE_OK) == THREADS, "all 8 succeeded",
          json_of(calls, THREADS, AEP_EDGE_CLOSED));
    /* One mint, then the 7 others at once: about 2 x 400 ms; in turn it would be 8 x 400. */
    CHECK(took < (double)ms(1600), "the waiters went out together after the mint", NULL);
    free_calls(calls, THREADS);
    aep_edge_client_free(c);
}

/* ------------------------------------------------------------------ 2: fork */

/* In the child: one interact on `c`; exit 0 when it succeeded within `limit_ms`. */
static void child_interacts(aep_edge_client *c, long limit_ms) {
    char *out = NULL;
    double t0 = now_ms();
    aep_edge_status s = aep_edge_interact(c, EVENT_REQUEST, &out);
    double took = now_ms() - t0;
    if (s != AEP_EDGE_OK || took > (double)limit_ms) {
        fprintf(stderr, "child: status %u after %.0f ms: %.300s\n", (unsigned)s, took,
                out ? out : "");
        _exit(1);
    }
    _exit(0);
}

/* Waits up to 10 s for `pid`; its exit status, or -1 (killed) when it hung. */
static int wait_child(pid_t pid) {
    double deadline = now_ms() + (double)ms(10000);
    int status = 0;
    while (now_ms() < deadline) {
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid) {
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

static void test_fork_while_a_thread_mints(void) {
    struct call call;
    aep_edge_client *c, *fresh;
    char dir[64], path[128], extra[200];
    pid_t pid;
    int status;
    static const char *const names[] = {"state.json", "state.json.lock", "state.json.identity-lock",
                                        "state.json.tmp"};
    size_t i;
    current_test = "fork while another thread mints the identity";
    snprintf(dir, sizeof dir, "/tmp/aep-edge-robust-%ld", (long)getpid());
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/state.json", dir);
    snprintf(extra, sizeof extra, ",\"statePath\":\"%s\"", path);

    /* 1. The child keeps using the client: the gate its parent's thread held is free there. */
    emu_reset(BASE_URL);
    emu_delay(BASE_URL, "/interact", 1, ms(3000));
    c = client_with(BASE_URL, "");
    start_calls(&call, 1, c);
    CHECK(emu_wait_for(BASE_URL, "\"method\":", 1, ms(3000)), "the parent's thread is minting", NULL);
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        child_interacts(c, ms(1500)); /* it used to wait out the 2 s identity wait */
    }
    status = wait_child(pid);
    CHECK(status == 0, "the child's call went out at once and succeeded", NULL);
    pthread_join(call.tid, NULL);
    CHECK_STATUS(call.status, AEP_EDGE_OK, call.json);
    aep_edge_string_free(call.json);
    aep_edge_client_free(c);

    /* 2. A new client in the child on the same state file: bounded, never hangs. */
    emu_reset(BASE_URL);
    emu_delay(BASE_URL, "/interact", 1, ms(1000));
    c = client_with(BASE_URL, extra);
    start_calls(&call, 1, c);
    CHECK(emu_wait_for(BASE_URL, "\"method\":", 1, ms(3000)), "the parent's thread is minting", NULL);
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        char cfg[512];
        char *err = NULL;
        fresh = NULL;
        snprintf(cfg, sizeof cfg, "{\"datastreamId\":\"" DATASTREAM "\",\"baseUrl\":\"%s\"%s}",
                 BASE_URL, extra);
        if (aep_edge_client_new(cfg, &fresh, &err) != AEP_EDGE_OK) {
            _exit(2);
        }
        child_interacts(fresh, ms(3500));
    }
    status = wait_child(pid);
    CHECK(status == 0, "a new client in the child answered within the identity wait", NULL);
    pthread_join(call.tid, NULL);
    CHECK_STATUS(call.status, AEP_EDGE_OK, call.json);
    aep_edge_string_free(call.json);
    aep_edge_client_free(c);
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        char p[160];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

/* ------------------------------------------------------------------ 5/6: callbacks re-enter */

struct reentry {
    aep_edge_client *client;
    pthread_t main_thread;
    int done;
    aep_edge_status nested, session, set_log, closed;
    double nested_ms, close_ms;
    char *nested_json;
};
static struct reentry R;
static _Thread_local int in_callback;

static void reentrant_log(void *user_data, uint32_t level, const char *message) {
    struct reentry *r = user_data;
    char *out = NULL;
    double t0;
    (void)level;
    if (in_callback || r->done || strstr(message, "POST") == NULL) {
        return;
    }
    in_callback = 1;
    r->done = 1;
    /* The outer interact holds the identity gate here: the nested one must not wait for it. */
    t0 = now_ms();
    r->nested = aep_edge_interact(r->client, EVENT_REQUEST, &r->nested_json);
    r->nested_ms = now_ms() - t0;
    r->session = aep_edge_session_get(r->client, &out);
    aep_edge_string_free(out);
    /* Replacing the callback from inside it returns (it used to spin for ever). */
    r->set_log = aep_edge_set_log_callback(r->client, AEP_EDGE_LOG_DEBUG, reentrant_log, r);
    /* Close does not wait for this thread's own call (UINT32_MAX would be ~50 days). */
    t0 = now_ms();
    out = NULL;
    r->closed = aep_edge_client_close(r->client, UINT32_MAX, &out);
    r->close_ms = now_ms() - t0;
    aep_edge_string_free(out);
    in_callback = 0;
}

static void test_callbacks_reenter(void) {
    aep_edge_client *c;
    char *out = NULL;
    aep_edge_status s;
    current_test = "a log callback calls interact, session_get, set_log_callback and close";
    emu_reset(BASE_URL);
    c = client_with(BASE_URL, "");
    memset(&R, 0, sizeof R);
    R.client = c;
    s = aep_edge_set_log_callback(c, AEP_EDGE_LOG_DEBUG, reentrant_log, &R);
    CHECK_STATUS(s, AEP_EDGE_OK, NULL);
    s = aep_edge_interact(c, EVENT_REQUEST, &out);
    CHECK(R.done, "the callback ran", NULL);
    CHECK_STATUS(R.nested, AEP_EDGE_OK, R.nested_json);
    CHECK(R.nested_ms < (double)ms(1500), "the nested interact did not stall on the gate", NULL);
    CHECK_STATUS(R.session, AEP_EDGE_OK, NULL);
    CHECK_STATUS(R.set_log, AEP_EDGE_OK, NULL);
    CHECK_STATUS(R.closed, AEP_EDGE_OK, NULL);
    CHECK(R.close_ms < (double)ms(1000), "close from the callback did not wait for its own call",
          NULL);
    CHECK_STATUS(s, AEP_EDGE_CLOSED, out); /* closed before its attempt went out */
    aep_edge_string_free(out);
    aep_edge_string_free(R.nested_json);
    CHECK(emu_count(BASE_URL, "\"method\":") == 1, "only the nested call was sent", NULL);
    s = aep_edge_set_log_callback(c, AEP_EDGE_LOG_DEBUG, NULL, NULL);
    CHECK_STATUS(s, AEP_EDGE_OK, NULL);
    aep_edge_client_free(c);
}

/* ------------------------------------------------------------------ 4: poisoned close */

static void test_poisoned_client_answers_close(void) {
    aep_edge_client *c;
    struct call call;
    char *out = NULL;
    aep_edge_status s;
    double t0;
    current_test = "a poisoned client answers close";
    emu_reset(BASE_URL);
    emu_delay(BASE_URL, "/interact", 1, ms(500));
    c = client_with(BASE_URL, ",\"session\":\"none\"");
    start_calls(&call, 1, c);
    CHECK(emu_wait_for(BASE_URL, "\"method\":", 1, ms(3000)), "a call is in flight", NULL);
    setenv("AEP_EDGE_TEST_PANIC", "aep_edge_collect", 1);
    s = aep_edge_collect(c, "{\"events\":[{}]}", &out);
    unsetenv("AEP_EDGE_TEST_PANIC");
    CHECK_STATUS(s, AEP_EDGE_PANIC, out);
    aep_edge_string_free(out);
    out = NULL;
    t0 = now_ms();
    s = aep_edge_client_close(c, (uint32_t)ms(5000), &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    CHECK(has(out, "\"poisoned\":true") && has(out, "\"inFlight\":0"), "the report says so", out);
    CHECK(now_ms() - t0 >= (double)ms(200), "close waited for the call in flight", out);
    aep_edge_string_free(out);
    pthread_join(call.tid, NULL);
    CHECK_STATUS(call.status, AEP_EDGE_OK, call.json);
    aep_edge_string_free(call.json);
    aep_edge_client_free(c);
}

/* ------------------------------------------------------------------ 8: strings */

static void test_modified_strings_free(void) {
    aep_edge_client *c;
    char *out = NULL, *tok, *save = NULL;
    aep_edge_status s;
    current_test = "a returned string modified then freed";
    emu_reset(BASE_URL);
    c = client_with(BASE_URL, "");
    s = aep_edge_interact(c, EVENT_REQUEST, &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    /* strtok writes NULs all over it; free must not depend on its length. */
    for (tok = strtok_r(out, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
    }
    out[0] = '\0';
    aep_edge_string_free(out);
    out = NULL;
    s = aep_edge_interact(c, "{}", &out);
    CHECK_STATUS(s, AEP_EDGE_INVALID_REQUEST, out);
    memset(out, 'x', strlen(out)); /* no NUL left but the last */
    aep_edge_string_free(out);
    CHECK(1, "freed", NULL);
    aep_edge_client_free(c);
}

/* ------------------------------------------------------------------ 3: absurd numbers */

/* An IMS answer with this expires_in (JSON text), then one interact. */
static void ims_answers(const char *expires_in, aep_edge_status want, int line) {
    aep_edge_client *c;
    char fault[400], *extra, *out = NULL;
    aep_edge_status s;
    emu_reset(AUTH_BASE_URL);
    snprintf(fault, sizeof fault,
             "{\"status\":200,\"pathContains\":\"/ims\",\"contentType\":\"application/json\","
             "\"body\":\"{\\\"access_token\\\":\\\"tok\\\",\\\"token_type\\\":\\\"bearer\\\","
             "\\\"expires_in\\\":%s}\"}",
             expires_in);
    emu_fault(AUTH_BASE_URL, fault);
    extra = oauth_extra(AUTH_BASE_URL, ",\"session\":\"none\"");
    c = client_with(AUTH_BASE_URL, extra);
    free(extra);
    s = aep_edge_interact(c, EVENT_REQUEST, &out);
    check_at(s == want, expires_in, out, line);
    if (want == AEP_EDGE_AUTH_ERROR) {
        check_at(has(out, "expires_in"), "the message names expires_in", out, line);
        check_at(has(out, "\"requestId\":null"), "nothing sent to Edge", out, line);
    }
    aep_edge_string_free(out);
    /* Not poisoned: the next call works (with a normal token). */
    out = NULL;
    s = aep_edge_interact(c, EVENT_REQUEST, &out);
    check_at(s == AEP_EDGE_OK, "the next call works", out, line);
    aep_edge_string_free(out);
    aep_edge_client_free(c);
}

static void test_absurd_numbers(void) {
    aep_edge_client *c;
    char *out = NULL;
    aep_edge_status s;
    current_test = "absurd numbers from the network";
    ims_answers("18446744073709551615", AEP_EDGE_OK, __LINE__); /* clamped */
    ims_answers("-1", AEP_EDGE_AUTH_ERROR, __LINE__);
    ims_answers("1e308", AEP_EDGE_AUTH_ERROR, __LINE__);
    ims_answers("\\\"3600\\\"", AEP_EDGE_AUTH_ERROR, __LINE__);

    /* maxAge and ttlSeconds of 2^63 are kept (saturated), never a panic. */
    emu_reset(BASE_URL);
    emu_fault(BASE_URL,
              "{\"status\":200,\"pathContains\":\"/interact\",\"contentType\":\"application/json\","
              "\"body\":\"{\\\"handle\\\":[{\\\"type\\\":\\\"state:store\\\",\\\"payload\\\":["
              "{\\\"key\\\":\\\"kndctr_C0FFEE_AdobeOrg_cluster\\\",\\\"value\\\":\\\"or2\\\","
              "\\\"maxAge\\\":9223372036854775808}]},"
              "{\\\"type\\\":\\\"locationHint:result\\\",\\\"payload\\\":[{\\\"scope\\\":"
              "\\\"EdgeNetwork\\\",\\\"hint\\\":\\\"or2\\\",\\\"ttlSeconds\\\":9223372036854775808}]}]}\"}");
    c = client_with(BASE_URL, "");
    INTERACT_EXPECT(c, AEP_EDGE_OK, "\"httpStatus\":200");
    s = aep_edge_session_get(c, &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    CHECK(has(out, "kndctr_C0FFEE_AdobeOrg_cluster") && has(out, "\"hint\":\"or2\""),
          "the entry and the hint are kept", out);
    aep_edge_string_free(out);
    INTERACT_EXPECT(c, AEP_EDGE_OK, NULL);
    CHECK(emu_count(BASE_URL, "/ee/or2/v2/interact") == 1, "the hint routes the next call", NULL);
    aep_edge_client_free(c);

    /* Retry-After 2^40 s, 2^64/1000 s and a date in year 9999: retryable, retryAfterMs saturates. */
    emu_reset(BASE_URL);
    c = client_with(BASE_URL, ",\"session\":\"none\"");
    emu_fault(BASE_URL, "{\"status\":503,\"retryAfter\":\"1099511627776\",\"pathContains\":\"/interact\"}");
    INTERACT_EXPECT(c, AEP_EDGE_HTTP_ERROR, "\"retryAfterMs\":1099511627776000");
    emu_fault(BASE_URL, "{\"status\":503,\"retryAfter\":\"18446744073709552\",\"pathContains\":\"/interact\"}");
    INTERACT_EXPECT(c, AEP_EDGE_HTTP_ERROR, "\"retryAfterMs\":18446744073709551615");
    emu_fault(BASE_URL, "{\"status\":429,\"retryAfter\":\"Fri, 31 Dec 9999 23:59:59 GMT\","
                        "\"pathContains\":\"/interact\"}");
    out = NULL;
    s = aep_edge_interact(c, EVENT_REQUEST, &out);
    CHECK_STATUS(s, AEP_EDGE_HTTP_ERROR, out);
    CHECK(has(out, "\"retryable\":true") && has(out, "\"attempts\":1") &&
              has(out, "\"retryAfterMs\":2"),
          "a year-9999 Retry-After: retryable, one attempt, a huge retryAfterMs", out);
    aep_edge_string_free(out);
    CHECK(emu_count(BASE_URL, "\"method\":") == 3, "none of them was retried", NULL);
    aep_edge_client_free(c);
}

/* ------------------------------------------------------------------ 11: proxy, cut body, deadline */

static void expect_config_refused(const char *cfg, const char *needle, int line) {
    aep_edge_client *c = NULL;
    char *err = NULL;
    aep_edge_status s = aep_edge_client_new(cfg, &c, &err);
    check_at(s == AEP_EDGE_INVALID_CONFIG, cfg, err, line);
    check_at(has(err, needle), needle, err, line);
    check_at(c == NULL, "no client", NULL, line);
    aep_edge_string_free(err);
    aep_edge_client_free(c);
}

static void test_plain_http_never_leaves_through_a_proxy(void) {
    static const char *const vars[] = {"ALL_PROXY", "HTTP_PROXY", "HTTPS_PROXY",
                                       "all_proxy", "http_proxy", "https_proxy"};
    char cfg[512];
    size_t i;
    aep_edge_client *c;
    current_test = "plain http never leaves the machine through a proxy";
    snprintf(cfg, sizeof cfg,
             "{\"datastreamId\":\"d\",\"baseUrl\":\"%s\",\"proxy\":{\"url\":\"http://10.0.0.1:3128\"}}",
             BASE_URL);
    expect_config_refused(cfg, "not a loopback proxy", __LINE__);
    snprintf(cfg, sizeof cfg,
             "{\"datastreamId\":\"d\",\"baseUrl\":\"%s\",\"proxy\":{\"url\":\"socks5://proxy.example.com:1080\"}}",
             BASE_URL);
    expect_config_refused(cfg, "baseUrl is plain http://", __LINE__);
    snprintf(cfg, sizeof cfg,
             "{\"datastreamId\":\"d\",\"orgId\":\"C0FFEE@AdobeOrg\",\"auth\":{\"type\":\"oauth\","
             "\"clientId\":\"i\",\"clientSecret\":\"s\",\"scopes\":\"o\",\"tokenUrl\":\"%s/ims/token/v3\"},"
             "\"proxy\":{\"url\":\"http://10.0.0.1:3128\"}}",
             BASE_URL);
    expect_config_refused(cfg, "auth.tokenUrl is plain http://", __LINE__);
    for (i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        setenv(vars[i], "http://10.0.0.1:3128", 1);
    }
    unsetenv("NO_PROXY");
    unsetenv("no_proxy");
    snprintf(cfg, sizeof cfg, "{\"datastreamId\":\"d\",\"baseUrl\":\"%s\",\"proxy\":{\"fromEnv\":true}}",
             BASE_URL);
    expect_config_refused(cfg, "proxy.fromEnv", __LINE__);
    for (i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        unsetenv(vars[i]);
    }
    /* A loopback proxy is fine. */
    c = client_with(BASE_URL, ",\"proxy\":{\"url\":\"http://127.0.0.1:3128\"}");
    aep_edge_client_free(c);
}

static void test_cut_body(void) {
    aep_edge_client *c;
    char *out = NULL;
    aep_edge_status s;
    current_test = "a 200 whose body was cut";
    emu_reset(BASE_URL);
    emu_fault(BASE_URL, "{\"count\":3,\"truncate\":true,\"pathContains\":\"/interact\"}");
    c = client_with(BASE_URL, ",\"session\":\"none\",\"retry\":{\"maxAttempts\":3,"
                              "\"baseDelayMs\":10,\"maxDelayMs\":20,\"retryReadTimeouts\":false}");
    s = aep_edge_interact(c, EVENT_REQUEST, &out);
    CHECK_STATUS(s, AEP_EDGE_TRANSPORT_ERROR, out);
    CHECK(has(out, "\"httpStatus\":200") && has(out, "\"attempts\":1") &&
              has(out, "\"retryable\":false") && has(out, "may have processed"),
          "not retried with retryReadTimeouts false, reported with its status", out);
    aep_edge_string_free(out);
    CHECK(emu_count(BASE_URL, "\"method\":") == 1, "sent once", NULL);
    aep_edge_client_free(c);

    c = client_with(BASE_URL, ",\"session\":\"none\",\"retry\":{\"maxAttempts\":3,"
                              "\"baseDelayMs\":10,\"maxDelayMs\":20}");
    INTERACT_EXPECT(c, AEP_EDGE_OK, "\"attempts\":3"); /* 2 more cut answers, then a whole one */
    aep_edge_client_free(c);
}

static void test_https_to_a_plain_server(void) {
    aep_edge_client *c;
    char url[96];
    const char *port = strrchr(BASE_URL, ':');
    current_test = "an https URL answered in plain HTTP";
    snprintf(url, sizeof url, "https://127.0.0.1%s", port ? port : ":1");
    c = client_with(url, ",\"session\":\"none\",\"retry\":{\"baseDelayMs\":10,\"maxDelayMs\":20}");
    INTERACT_EXPECT(c, AEP_EDGE_TRANSPORT_ERROR, "does not speak TLS");
    INTERACT_EXPECT(c, AEP_EDGE_TRANSPORT_ERROR, "\"attempts\":1");
    aep_edge_client_free(c);
}

static void test_token_fetch_ends_at_the_deadline(void) {
    aep_edge_client *c;
    char *extra, *out = NULL, more[160];
    double t0, took;
    aep_edge_status s;
    current_test = "a token fetch ends at the call's deadline";
    emu_reset(AUTH_BASE_URL);
    emu_delay(AUTH_BASE_URL, "/ims", 1, ms(3000));
    snprintf(more, sizeof more, ",\"session\":\"none\",\"timeouts\":{\"requestMs\":%ld,\"totalMs\":%ld}",
             ms(5000), ms(1000));
    extra = oauth_extra(AUTH_BASE_URL, more);
    c = client_with(AUTH_BASE_URL, extra);
    free(extra);
    t0 = now_ms();
    s = aep_edge_interact(c, EVENT_REQUEST, &out);
    took = now_ms() - t0;
    CHECK_STATUS(s, AEP_EDGE_TIMEOUT, out);
    CHECK(took < (double)ms(1100), "within totalMs (+100 ms)", out);
    CHECK(has(out, "\"requestId\":null") && has(out, "\"attempts\":0"), "nothing sent to Edge", out);
    aep_edge_string_free(out);
    aep_edge_client_free(c);
}

/* ------------------------------------------------------------------ 9: error objects */

static void test_ims_error_objects(void) {
    aep_edge_client *c;
    char *extra, *out = NULL;
    aep_edge_status s;
    current_test = "IMS error objects";
    emu_reset(AUTH_BASE_URL);
    emu_fault(AUTH_BASE_URL,
              "{\"status\":401,\"pathContains\":\"/ims\",\"contentType\":\"application/json\","
              "\"body\":\"{\\\"error\\\":\\\"invalid_client\\\",\\\"error_description\\\":"
              "\\\"invalid client_id parameter\\\"}\"}");
    extra = oauth_extra(AUTH_BASE_URL, ",\"session\":\"none\",\"retry\":{\"baseDelayMs\":10,\"maxDelayMs\":20}");
    c = client_with(AUTH_BASE_URL, extra);
    free(extra);
    s = aep_edge_interact(c, EVENT_REQUEST, &out);
    CHECK_STATUS(s, AEP_EDGE_AUTH_ERROR, out);
    CHECK(has(out, "\"kind\":\"auth\"") && has(out, "\"httpStatus\":401") && has(out, "\"code\":null") &&
              has(out, "\"problem\":{\"error\":\"invalid_client\"") && has(out, "(invalid_client") &&
              has(out, "\"retryable\":false") && has(out, "\"attempts\":0") &&
              has(out, "\"requestId\":null"),
          "kind auth, the IMS status, its body under problem, its error in the message", out);
    aep_edge_string_free(out);
    CHECK(emu_count(AUTH_BASE_URL, "\"method\":") == 1, "a refusal is not retried", NULL);

    /* 503 from IMS follows the retry table. */
    emu_reset(AUTH_BASE_URL);
    emu_fault(AUTH_BASE_URL, "{\"count\":2,\"status\":503,\"pathContains\":\"/ims\"}");
    INTERACT_EXPECT(c, AEP_EDGE_OK, NULL);
    CHECK(emu_count(AUTH_BASE_URL, "/ims/token") == 3, "IMS 503 was retried twice", NULL);

    /* Every call on a closed client is CLOSED, set_access_token included. */
    aep_edge_client_close(c, 1000, NULL);
    s = aep_edge_client_set_access_token(c, "t", &out);
    CHECK_STATUS(s, AEP_EDGE_CLOSED, out);
    aep_edge_string_free(out);
    out = NULL;
    s = aep_edge_session_reset(c, &out);
    CHECK_STATUS(s, AEP_EDGE_CLOSED, out);
    aep_edge_string_free(out);
    aep_edge_client_free(c);
}

static void test_misspelt_required_key(void) {
    current_test = "a misspelt required key";
    expect_config_refused("{\"datastreamID\":\"d\"}", "unknown key datastreamID", __LINE__);
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv) {
    BASE_URL = argc > 1 ? argv[1] : getenv("AEP_EDGE_BASE_URL");
    AUTH_BASE_URL = argc > 2 ? argv[2] : getenv("AEP_EDGE_AUTH_BASE_URL");
    if (BASE_URL == NULL || AUTH_BASE_URL == NULL) {
        fprintf(stderr, "usage: %s BASE_URL AUTH_BASE_URL (or set AEP_EDGE_BASE_URL and "
                        "AEP_EDGE_AUTH_BASE_URL)\n",
                argv[0]);
        return 64;
    }
    read_time_scale();
    /* A hang is a failure: the default SIGALRM action ends the process. */
    alarm((unsigned)(120 * SCALE));
    unsetenv("AEP_EDGE_TEST_PANIC");

    test_close_ends_backoff_waits();
    test_close_ends_identity_gate_waits();
    test_close_ends_token_waits();
    test_close_ends_token_refresh_resend();
    test_close_ends_pending_consent_waits();
    test_failed_mint_releases_waiters();
    test_fork_while_a_thread_mints();
    test_callbacks_reenter();
    test_poisoned_client_answers_close();
    test_modified_strings_free();
    test_absurd_numbers();
    test_plain_http_never_leaves_through_a_proxy();
    test_cut_body();
    test_https_to_a_plain_server();
    test_token_fetch_ends_at_the_deadline();
    test_ims_error_objects();
    test_misspelt_required_key();

    return test_summary();
}
