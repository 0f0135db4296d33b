/*
 * C tests of the non-blocking calls (design.md §3.6), C11: completion
 * callbacks (exactly once, on which thread), poll mode, QUEUE_FULL,
 * validation identical to the blocking calls, close with 1 000 calls pending,
 * free with no late callback, and callbacks that call back into the library.
 *
 * Talks to the emulator started by tests/c/run.sh (--datastream known-ds):
 *   AEP_EDGE_BASE_URL (or argv[1]).
 * AEP_EDGE_TEST_TIME_SCALE (an integer, default 1) stretches delays and
 * timeouts, for runs under valgrind.
 *
 * The last line is "N passed, M failed"; the exit status is non-zero when
 * anything failed.
 */
#define _POSIX_C_SOURCE 200809L

#include "test_util.h"

#include <stdatomic.h>

#define EVENT "{\"event\":{\"xdm\":{\"eventType\":\"web.webpagedetails.pageViews\"}}}"

static const char *BASE_URL;

/* Both NULL, or equal strings. */
static int same(const char *a, const char *b) {
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* ------------------------------------------------------------------ a completion log */

#define MAX_CALLS 1100

/* What the callbacks saw. One per test, shared by its callbacks. */
struct log {
    pthread_mutex_t mu;
    pthread_cond_t changed;
    int count;
    uint64_t ids[MAX_CALLS];
    uint32_t statuses[MAX_CALLS];
    pthread_t threads[MAX_CALLS];
    char *first_result; /* a copy of the first result_json */
    int bad_json;       /* result_json NULL or not a JSON object */
};

static void log_init(struct log *log) {
    memset(log, 0, sizeof *log);
    pthread_mutex_init(&log->mu, NULL);
    pthread_cond_init(&log->changed, NULL);
}

static void log_destroy(struct log *log) {
    free(log->first_result);
    pthread_mutex_destroy(&log->mu);
    pthread_cond_destroy(&log->changed);
}

static void log_add(struct log *log, uint64_t call_id, aep_edge_status status,
                    const char *result_json) {
    pthread_mutex_lock(&log->mu);
    if (log->count < MAX_CALLS) {
        log->ids[log->count] = call_id;
        log->statuses[log->count] = status;
        log->threads[log->count] = pthread_self();
    }
    if (result_json == NULL || result_json[0] != '{') {
        log->bad_json++;
    }
    if (log->first_result == NULL && result_json != NULL) {
        log->first_result = strdup(result_json);
    }
    log->count++;
    pthread_cond_broadcast(&log->changed);
    pthread_mutex_unlock(&log->mu);
}

static int log_count(struct log *log) {
    int n;
    pthread_mutex_lock(&log->mu);
    n = log->count;
    pthread_mutex_unlock(&log->mu);
    return n;
}

/* Waits until `n` completions were logged or `timeout` ms passed; the count. */
static int log_wait(struct log *log, int n, long timeout) {
    double deadline = now_ms() + (double)timeout;
    int got;
    pthread_mutex_lock(&log->mu);
    while (log->count < n && now_ms() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 10 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec += 1;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&log->changed, &log->mu, &ts);
    }
    got = log->count;
    pthread_mutex_unlock(&log->mu);
    return got;
}

/* How many times `id` was logged. */
static int log_times(struct log *log, uint64_t id) {
    int i, n = 0;
    pthread_mutex_lock(&log->mu);
    for (i = 0; i < log->count && i < MAX_CALLS; i++) {
        n += log->ids[i] == id;
    }
    pthread_mutex_unlock(&log->mu);
    return n;
}

static void on_complete(void *user_data, uint64_t call_id, aep_edge_status status,
                        const char *result_json) {
    log_add((struct log *)user_data, call_id, status, result_json);
}

/* ------------------------------------------------------------------ tests */

static pthread_t main_thread;

static void test_callbacks_exactly_once(void) {
    enum { N = 200 };
    struct log log;
    uint64_t ids[N];
    pthread_t seen[8];
    int i, j, distinct = 0, on_main = 0, ok = 0;
    aep_edge_client *c;
    current_test = "callbacks exactly once";
    emu_reset(BASE_URL);
    log_init(&log);
    c = client_with(BASE_URL, ",\"async\":{\"workers\":4}");
    for (i = 0; i < N; i++) {
        char *err = (char *)1;
        aep_edge_status s = aep_edge_interact_async(c, EVENT, on_complete, &log, &ids[i], &err);
        CHECK_STATUS(s, AEP_EDGE_OK, err);
        CHECK(err == NULL, "error_json_out is NULL on OK", err);
        CHECK(ids[i] != 0, "call ids are not zero", NULL);
        for (j = 0; j < i; j++) {
            if (ids[j] == ids[i]) {
                CHECK(0, "call ids are unique", NULL);
            }
        }
    }
    CHECK(log_wait(&log, N, ms(30000)) == N, "every call completed", NULL);
    for (i = 0; i < N; i++) {
        CHECK(log_times(&log, ids[i]) == 1, "one completion per call id", NULL);
    }
    for (i = 0; i < N; i++) {
        ok += log.statuses[i] == AEP_EDGE_OK;
        if (pthread_equal(log.threads[i], main_thread)) {
            on_main++;
            continue;
        }
        for (j = 0; j < distinct && !pthread_equal(seen[j], log.threads[i]); j++) {
        }
        if (j == distinct && distinct < 8) {
            seen[distinct++] = log.threads[i];
        }
    }
    CHECK(ok == N, "every completion is AEP_EDGE_OK", log.first_result);
    CHECK(log.bad_json == 0, "every result_json is a JSON object", NULL);
    CHECK(has(log.first_result, "\"handle\":[") && has(log.first_result, "\"client\":{"),
          "the result JSON is the blocking call's", log.first_result);
    CHECK(on_main == 0, "no callback ran on the calling thread", NULL);
    CHECK(distinct >= 1 && distinct <= 4, "callbacks ran on at most async.workers threads", NULL);
    CHECK_STATUS(aep_edge_client_close(c, (uint32_t)ms(10000), NULL), AEP_EDGE_OK, NULL);
    aep_edge_client_free(c);
    CHECK(log_count(&log) == N, "no completion after close and free", NULL);
    log_destroy(&log);
}

/* The blocking call and the async call on the same input give the same status
 * and the same error JSON, and a refused async call has no completion. */
static void check_same_refusal(aep_edge_client *c, const char *request, const char *what,
                               aep_edge_status (*blocking)(const aep_edge_client *, const char *,
                                                           char **),
                               aep_edge_status (*async)(const aep_edge_client *, const char *,
                                                        aep_edge_completion_fn, void *, uint64_t *,
                                                        char **),
                               struct log *log) {
    char *want = NULL, *got = NULL;
    uint64_t id = 77;
    int before = log_count(log);
    aep_edge_status ws = blocking(c, request, &want);
    aep_edge_status gs = async(c, request, on_complete, log, &id, &got);
    check_at(ws != AEP_EDGE_OK, what, want, __LINE__);
    check_at(gs == ws, what, got, __LINE__);
    check_at(same(got, want), what, got, __LINE__);
    check_at(id == 0, "call_id_out is 0 on failure", NULL, __LINE__);
    sleep_ms(ms(20));
    check_at(log_count(log) == before, "no completion for a refused call", NULL, __LINE__);
    aep_edge_string_free(want);
    aep_edge_string_free(got);
}

static void test_validation_like_blocking(void) {
    static const char bad_utf8[] = {'{', '"', 'e', '"', ':', (char)0xC3, (char)0x28, '}', 0};
    struct log log;
    char *big, *huge_event, *out = NULL;
    size_t i;
    uint64_t id = 5;
    aep_edge_client *c;
    current_test = "validation like the blocking calls";
    emu_reset(BASE_URL);
    log_init(&log);
    /* Session "none": the blocking call adds nothing to the body, so even the
     * byte count in the 64 KB message is the same. */
    c = client_with(BASE_URL, ",\"session\":\"none\"");

    check_same_refusal(c, NULL, "NULL request", aep_edge_interact, aep_edge_interact_async, &log);
    check_same_refusal(c, bad_utf8, "invalid UTF-8", aep_edge_interact, aep_edge_interact_async,
                       &log);
    check_same_refusal(c, "{\"event\":", "invalid JSON", aep_edge_interact,
                       aep_edge_interact_async, &log);
    check_same_refusal(c, "{\"event\":{},\"colour\":1}", "unknown key", aep_edge_interact,
                       aep_edge_interact_async, &log);
    check_same_refusal(c, "{\"event\":{},\"options\":{\"x\":1}}", "unknown option",
                       aep_edge_interact, aep_edge_interact_async, &log);
    check_same_refusal(c, "{\"events\":[]}", "empty collect", aep_edge_collect,
                       aep_edge_collect_async, &log);
    check_same_refusal(c, "{\"consent\":\"y\"}", "bad consent", aep_edge_set_consent,
                       aep_edge_set_consent_async, &log);

    big = malloc(AEP_EDGE_MAX_REQUEST_JSON_BYTES + 16);
    memset(big, ' ', AEP_EDGE_MAX_REQUEST_JSON_BYTES + 15);
    big[0] = '{';
    big[AEP_EDGE_MAX_REQUEST_JSON_BYTES + 14] = '}';
    big[AEP_EDGE_MAX_REQUEST_JSON_BYTES + 15] = '\0';
    check_same_refusal(c, big, "over 1 MiB", aep_edge_interact, aep_edge_interact_async, &log);
    free(big);

    /* Valid JSON under 1 MiB whose encoded body is over 64 KB. */
    huge_event = malloc(100 * 1024);
    strcpy(huge_event, "{\"event\":{\"data\":{\"s\":\"");
    for (i = strlen(huge_event); i < 90 * 1024; i++) {
        huge_event[i] = 'x';
    }
    strcpy(huge_event + i, "\"}}}");
    check_same_refusal(c, huge_event, "body over 64 KB", aep_edge_interact,
                       aep_edge_interact_async, &log);
    free(huge_event);

    /* NULL client: both NULL_ARGUMENT, nothing else written. */
    CHECK_STATUS(aep_edge_interact_async(NULL, EVENT, on_complete, &log, &id, &out),
                 AEP_EDGE_NULL_ARGUMENT, out);
    CHECK(has(out, "\"kind\":\"null_argument\"") && id == 0, "NULL client refused", out);
    aep_edge_string_free(out);
    /* NULL call_id_out and error_json_out are allowed. */
    CHECK_STATUS(aep_edge_interact_async(c, "{", on_complete, &log, NULL, NULL),
                 AEP_EDGE_INVALID_JSON, NULL);

    /* A closed client. */
    CHECK_STATUS(aep_edge_client_close(c, (uint32_t)ms(5000), NULL), AEP_EDGE_OK, NULL);
    check_same_refusal(c, EVENT, "closed client", aep_edge_interact, aep_edge_interact_async,
                       &log);
    check_same_refusal(c, "{", "closed client wins over bad JSON", aep_edge_interact,
                       aep_edge_interact_async, &log);
    aep_edge_client_free(c);

    /* Collect consent "n" (a device session keeps it): refused at once by both. */
    c = client_with(BASE_URL, "");
    CHECK_STATUS(aep_edge_set_consent(c,
                                      "{\"consent\":[{\"standard\":\"Adobe\",\"version\":\"2.0\","
                                      "\"value\":{\"collect\":{\"val\":\"n\"}}}]}",
                                      &out),
                 AEP_EDGE_OK, out);
    aep_edge_string_free(out);
    check_same_refusal(c, EVENT, "consent n", aep_edge_interact, aep_edge_interact_async, &log);
    check_same_refusal(c, "{\"events\":[{\"xdm\":{}}]}", "consent n (collect)", aep_edge_collect,
                       aep_edge_collect_async, &log);
    aep_edge_client_free(c);
    CHECK(log_count(&log) == 0, "no refused call had a completion", NULL);
    log_destroy(&log);
}

/* A call that fails on the server completes with the blocking call's status and error. */
static void test_failures_complete_like_blocking(void) {
    static const char *wrong_ds = "{\"event\":{\"xdm\":{}},\"options\":{\"datastreamId\":\"nope\"}}";
    struct log log;
    char *want = NULL;
    aep_edge_client *c;
    current_test = "failures complete like blocking calls";
    emu_reset(BASE_URL);
    log_init(&log);
    c = client_with(BASE_URL, "");
    aep_edge_status ws = aep_edge_interact(c, wrong_ds, &want);
    CHECK_STATUS(ws, AEP_EDGE_HTTP_ERROR, want);
    CHECK_STATUS(aep_edge_interact_async(c, wrong_ds, on_complete, &log, NULL, NULL),
                 AEP_EDGE_OK, NULL);
    CHECK(log_wait(&log, 1, ms(10000)) == 1, "the failing call completed", NULL);
    CHECK_STATUS(log.statuses[0], ws, log.first_result);
    CHECK(has(log.first_result, "\"code\":\"EXEG-0003-400\"") && has(want, "\"code\":\"EXEG-0003-400\""),
          "the same error code", log.first_result);
    CHECK(has(log.first_result, "\"kind\":\"http\",\"status\":8,") &&
              has(log.first_result, "\"httpStatus\":400"),
          "the same error object", log.first_result);
    aep_edge_string_free(want);
    CHECK_STATUS(aep_edge_client_close(c, (uint32_t)ms(5000), NULL), AEP_EDGE_OK, NULL);
    aep_edge_client_free(c);
    log_destroy(&log);
}

static void test_poll_mode(void) {
    enum { N = 5 };
    uint64_t ids[N], got_ids[N];
    int got = 0, frames = 0, i;
    char *out = (char *)1;
    double started;
    aep_edge_client *c;
    current_test = "poll mode";
    emu_reset(BASE_URL);
    c = client_with(BASE_URL, "");

    CHECK_STATUS(aep_edge_poll(c, 0, &out), AEP_EDGE_NOT_READY, out);
    CHECK(out == NULL, "NOT_READY writes NULL", NULL);
    CHECK_STATUS(aep_edge_poll(c, 0, NULL), AEP_EDGE_NULL_ARGUMENT, NULL);
    CHECK_STATUS(aep_edge_poll(NULL, 0, &out), AEP_EDGE_NULL_ARGUMENT, out);
    aep_edge_string_free(out);

    emu_delay(BASE_URL, "/interact", 5000, ms(100));
    for (i = 0; i < N; i++) {
        CHECK_STATUS(aep_edge_interact_async(c, EVENT, NULL, NULL, &ids[i], NULL), AEP_EDGE_OK,
                     NULL);
    }
    /* A game loop: one poll with timeout 0 per 5 ms frame. */
    started = now_ms();
    while (got < N && now_ms() - started < (double)ms(20000)) {
        aep_edge_status s = aep_edge_poll(c, 0, &out);
        frames++;
        if (s == AEP_EDGE_NOT_READY) {
            CHECK(out == NULL, "NOT_READY writes NULL", NULL);
            sleep_ms(5);
            continue;
        }
        CHECK_STATUS(s, AEP_EDGE_OK, out);
        CHECK(has(out, "{\"callId\":") && has(out, "\"status\":0,\"result\":{") &&
                  has(out, "\"handle\":["),
              "the completion JSON", out);
        {
            const char *p = out ? strstr(out, "\"callId\":") : NULL;
            got_ids[got++] = p ? strtoull(p + 9, NULL, 10) : 0;
        }
        aep_edge_string_free(out);
    }
    CHECK(got == N, "every poll-mode call was polled", NULL);
    CHECK(frames > N, "some frames found nothing ready (the calls took 100 ms)", NULL);
    for (i = 0; i < N; i++) {
        int j, n = 0;
        for (j = 0; j < got; j++) {
            n += got_ids[j] == ids[i];
        }
        CHECK(n == 1, "each call id was polled once", NULL);
    }
    CHECK_STATUS(aep_edge_poll(c, 0, &out), AEP_EDGE_NOT_READY, out);

    /* poll waits up to its timeout for a call to finish. */
    CHECK_STATUS(aep_edge_interact_async(c, EVENT, NULL, NULL, NULL, NULL), AEP_EDGE_OK, NULL);
    started = now_ms();
    CHECK_STATUS(aep_edge_poll(c, (uint32_t)ms(10000), &out), AEP_EDGE_OK, out);
    CHECK(now_ms() - started >= 50.0, "poll waited for the 100 ms call", NULL);
    aep_edge_string_free(out);

    /* Completions stay pollable after close. */
    CHECK_STATUS(aep_edge_interact_async(c, EVENT, NULL, NULL, &ids[0], NULL), AEP_EDGE_OK, NULL);
    CHECK_STATUS(aep_edge_client_close(c, (uint32_t)ms(10000), NULL), AEP_EDGE_OK, NULL);
    CHECK_STATUS(aep_edge_poll(c, 0, &out), AEP_EDGE_OK, out);
    CHECK(has(out, "\"callId\":"), "a completion polled after close", out);
    aep_edge_string_free(out);
    started = now_ms();
    CHECK_STATUS(aep_edge_poll(c, (uint32_t)ms(10000), &out), AEP_EDGE_NOT_READY, out);
    CHECK(now_ms() - started < (double)ms(5000), "after close an empty poll returns at once", NULL);
    aep_edge_client_free(c);
    emu_reset(BASE_URL);
}

static void test_queue_full(void) {
    char *err = NULL, *out = NULL;
    int i;
    struct log log;
    aep_edge_client *c;
    current_test = "queue full";
    emu_reset(BASE_URL);
    log_init(&log);
    c = client_with(BASE_URL, ",\"async\":{\"workers\":1,\"maxPending\":3}");
    emu_delay(BASE_URL, "/interact", 5000, ms(200));
    for (i = 0; i < 3; i++) {
        CHECK_STATUS(aep_edge_interact_async(c, EVENT, NULL, NULL, NULL, NULL), AEP_EDGE_OK, NULL);
    }
    CHECK_STATUS(aep_edge_interact_async(c, EVENT, on_complete, &log, NULL, &err),
                 AEP_EDGE_QUEUE_FULL, err);
    CHECK(has(err, "\"kind\":\"queue_full\"") && has(err, "async.maxPending"),
          "the error names async.maxPending", err);
    aep_edge_string_free(err);
    /* Finished but unpolled calls still count. */
    CHECK_STATUS(aep_edge_poll(c, (uint32_t)ms(10000), &out), AEP_EDGE_OK, out);
    aep_edge_string_free(out);
    sleep_ms(ms(700)); /* the other two finish, unpolled */
    CHECK_STATUS(aep_edge_interact_async(c, EVENT, NULL, NULL, NULL, NULL), AEP_EDGE_OK, NULL);
    CHECK_STATUS(aep_edge_interact_async(c, EVENT, NULL, NULL, NULL, &err), AEP_EDGE_QUEUE_FULL,
                 err);
    aep_edge_string_free(err);
    CHECK_STATUS(aep_edge_poll(c, 0, &out), AEP_EDGE_OK, out);
    aep_edge_string_free(out);
    CHECK_STATUS(aep_edge_interact_async(c, EVENT, NULL, NULL, NULL, NULL), AEP_EDGE_OK, NULL);
    CHECK_STATUS(aep_edge_client_close(c, (uint32_t)ms(10000), NULL), AEP_EDGE_OK, NULL);
    aep_edge_client_free(c);
    CHECK(log_count(&log) == 0, "a refused call had no completion", NULL);
    log_destroy(&log);
    emu_reset(BASE_URL);
}

static void test_close_with_1000_pending(void) {
    enum { N = 1000 };
    static struct log log;
    static uint64_t ids[N];
    int i, closed_on_main = 0, closed = 0, once = 1;
    char *report = NULL;
    aep_edge_client *c;
    current_test = "close with 1000 pending";
    emu_reset(BASE_URL);
    log_init(&log);
    c = client_with(BASE_URL, ",\"async\":{\"workers\":2,\"maxPending\":2000}");
    emu_delay(BASE_URL, "/interact", 5000, ms(50));
    for (i = 0; i < N; i++) {
        CHECK_STATUS(aep_edge_interact_async(c, EVENT, on_complete, &log, &ids[i], NULL),
                     AEP_EDGE_OK, NULL);
    }
    sleep_ms(ms(20));
    CHECK_STATUS(aep_edge_client_close(c, (uint32_t)ms(30000), &report), AEP_EDGE_OK, report);
    CHECK(has(report, "\"inFlight\":0"), "close reports nothing in flight", report);
    aep_edge_string_free(report);
    CHECK(log_count(&log) == N, "close returned after every completion", NULL);
    for (i = 0; i < N; i++) {
        once &= log_times(&log, ids[i]) == 1;
    }
    CHECK(once, "exactly one completion per call", NULL);
    for (i = 0; i < N; i++) {
        if (log.statuses[i] == AEP_EDGE_CLOSED) {
            closed++;
            closed_on_main += pthread_equal(log.threads[i], main_thread) != 0;
        } else {
            CHECK_STATUS(log.statuses[i], AEP_EDGE_OK, NULL);
        }
    }
    CHECK(closed >= N - 50, "the queued calls ended with AEP_EDGE_CLOSED", NULL);
    CHECK(closed_on_main >= closed - 2,
          "calls close ended before they started completed on the closing thread", NULL);
    CHECK_STATUS(aep_edge_interact_async(c, EVENT, on_complete, &log, NULL, NULL), AEP_EDGE_CLOSED,
                 NULL);
    aep_edge_client_free(c);
    sleep_ms(ms(200));
    CHECK(log_count(&log) == N, "no completion after close and free", NULL);
    log_destroy(&log);
    emu_reset(BASE_URL);
}

static void test_free_drops_pending_calls(void) {
    static struct log log;
    int i;
    double started;
    aep_edge_client *c;
    current_test = "free without close";
    emu_reset(BASE_URL);
    log_init(&log);
    c = client_with(BASE_URL, ",\"async\":{\"workers\":2}");
    emu_delay(BASE_URL, "/interact", 5000, ms(600));
    for (i = 0; i < 20; i++) {
        CHECK_STATUS(aep_edge_interact_async(c, EVENT, on_complete, &log, NULL, NULL), AEP_EDGE_OK,
                     NULL);
    }
    sleep_ms(ms(50));
    started = now_ms();
    aep_edge_client_free(c);
    CHECK(now_ms() - started < (double)ms(400), "free does not wait on the network", NULL);
    sleep_ms(ms(1200)); /* the two running calls end meanwhile */
    CHECK(log_count(&log) == 0, "no callback ran after free", NULL);
    log_destroy(&log);
    emu_reset(BASE_URL);
}

/* free waits for a callback that is running when it is called. */
struct slow {
    pthread_mutex_t mu;
    int started, finished;
};

static void slow_callback(void *user_data, uint64_t call_id, aep_edge_status status,
                          const char *result_json) {
    struct slow *s = user_data;
    (void)call_id;
    (void)status;
    (void)result_json;
    pthread_mutex_lock(&s->mu);
    s->started = 1;
    pthread_mutex_unlock(&s->mu);
    sleep_ms(ms(300));
    pthread_mutex_lock(&s->mu);
    s->finished = 1;
    pthread_mutex_unlock(&s->mu);
}

static void test_free_waits_for_running_callbacks(void) {
    struct slow s = {PTHREAD_MUTEX_INITIALIZER, 0, 0};
    int started = 0, finished;
    double t0 = now_ms();
    aep_edge_client *c;
    current_test = "free waits for running callbacks";
    emu_reset(BASE_URL);
    c = client_with(BASE_URL, "");
    CHECK_STATUS(aep_edge_interact_async(c, EVENT, slow_callback, &s, NULL, NULL), AEP_EDGE_OK,
                 NULL);
    while (!started && now_ms() - t0 < (double)ms(10000)) {
        pthread_mutex_lock(&s.mu);
        started = s.started;
        pthread_mutex_unlock(&s.mu);
        sleep_ms(1);
    }
    CHECK(started, "the callback started", NULL);
    aep_edge_client_free(c);
    pthread_mutex_lock(&s.mu);
    finished = s.finished;
    pthread_mutex_unlock(&s.mu);
    CHECK(finished, "free returned after the running callback", NULL);
    pthread_mutex_destroy(&s.mu);
}

/* Callbacks that call back into the library: a chained async call, the
 * session, and close, which must not wait for the calling callback. */
struct reentrant {
    aep_edge_client *client;
    struct log log;
    aep_edge_status chained, session, close_status;
    double close_ms;
    atomic_int depth; /* the chained call's callback may run beside the first */
};

static void reentrant_callback(void *user_data, uint64_t call_id, aep_edge_status status,
                               const char *result_json) {
    struct reentrant *r = user_data;
    char *out = NULL;
    int depth = atomic_fetch_add(&r->depth, 1) + 1;
    if (depth == 1) {
        /* First completion: chain a second call, read the session. */
        r->chained = aep_edge_interact_async(r->client, EVENT, reentrant_callback, r, NULL, NULL);
        r->session = aep_edge_session_get(r->client, &out);
        aep_edge_string_free(out);
    } else if (depth == 2) {
        /* Second completion: close from inside the callback. */
        double t0 = now_ms();
        r->close_status = aep_edge_client_close(r->client, (uint32_t)ms(20000), NULL);
        r->close_ms = now_ms() - t0;
    }
    /* Last: the log's mutex publishes the fields above to the thread that waits
       on the log (TSan cannot see the library's own synchronisation). */
    log_add(&r->log, call_id, status, result_json);
}

static void test_callbacks_call_the_library(void) {
    struct reentrant r;
    aep_edge_client *c;
    current_test = "callbacks call the library";
    emu_reset(BASE_URL);
    memset(&r, 0, sizeof r);
    log_init(&r.log);
    c = client_with(BASE_URL, "");
    r.client = c;
    CHECK_STATUS(aep_edge_interact_async(c, EVENT, reentrant_callback, &r, NULL, NULL),
                 AEP_EDGE_OK, NULL);
    CHECK(log_wait(&r.log, 2, ms(20000)) == 2, "the chained call completed", NULL);
    /* close ran inside the second callback; wait until it returned. */
    CHECK_STATUS(aep_edge_client_close(c, (uint32_t)ms(20000), NULL), AEP_EDGE_OK, NULL);
    CHECK_STATUS(r.chained, AEP_EDGE_OK, NULL);
    CHECK_STATUS(r.session, AEP_EDGE_OK, NULL);
    CHECK_STATUS(r.close_status, AEP_EDGE_OK, NULL);
    CHECK(r.close_ms < (double)ms(5000), "close inside a callback did not wait for it", NULL);
    aep_edge_client_free(c);
    CHECK(log_count(&r.log) == 2, "two completions", NULL);
    log_destroy(&r.log);
}

int main(int argc, char **argv) {
    BASE_URL = argc > 1 ? argv[1] : getenv("AEP_EDGE_BASE_URL");
    if (BASE_URL == NULL) {
        fprintf(stderr, "usage: %s BASE_URL (aep-edge-emulator --port 0 --datastream " DATASTREAM
                        "), or set AEP_EDGE_BASE_URL\n",
                argv[0]);
        return 2;
    }
    read_time_scale();
    main_thread = pthread_self();

    test_callbacks_exactly_once();
    test_validation_like_blocking();
    test_failures_complete_like_blocking();
    test_poll_mode();
    test_queue_full();
    test_close_with_1000_pending();
    test_free_drops_pending_calls();
    test_free_waits_for_running_callbacks();
    test_callbacks_call_the_library();

    return test_summary();
}
