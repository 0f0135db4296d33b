/*
 * C ABI tests of the durable event queue (design.md §3.7), C11: send, flush,
 * stats, the outcome callback, close and free, the queue file's lock.
 *
 * Talks to the emulator started by tests/c/run.sh (AEP_EDGE_BASE_URL, or argv[1]).
 * The last line is "N passed, M failed"; the exit status is non-zero on any failure.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE

#include "test_util.h"

#include <stdatomic.h>
#include <sys/wait.h>

static const char *BASE_URL;

/* A temporary directory and the queue file in it. */
static void temp_queue(char *dir, size_t dir_size, char *file, size_t file_size) {
    snprintf(dir, dir_size, "/tmp/aep-edge-queue-c-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
    snprintf(file, file_size, "%s/events.db", dir);
}

static void remove_queue(const char *dir, const char *file) {
    char path[512];
    unlink(file);
    snprintf(path, sizeof path, "%s-wal", file);
    unlink(path);
    snprintf(path, sizeof path, "%s-shm", file);
    unlink(path);
    rmdir(dir);
}

static aep_edge_client *client_for(const char *base, const char *queue_path, const char *extra) {
    char config[2048];
    char queue[700] = "";
    if (queue_path != NULL) {
        snprintf(queue, sizeof queue, ",\"queue\":{\"path\":\"%s\",\"flushIntervalMs\":20}", queue_path);
    }
    snprintf(config, sizeof config,
             "{\"datastreamId\":\"known-ds\",\"baseUrl\":\"%s\","
             "\"retry\":{\"baseDelayMs\":10,\"maxDelayMs\":100},"
             "\"timeouts\":{\"connectMs\":1000,\"requestMs\":3000,\"totalMs\":5000}%s%s}",
             base, queue, extra ? extra : "");
    aep_edge_client *client = NULL;
    char *error = NULL;
    aep_edge_status s = aep_edge_client_new(config, &client, &error);
    CHECK(s == AEP_EDGE_OK && client != NULL, "client_new", error);
    aep_edge_string_free(error);
    return client;
}

static const char *EVENT =
    "{\"event\":{\"xdm\":{\"eventType\":\"game.level.complete\","
    "\"identityMap\":{\"FPID\":[{\"id\":\"player-1\"}]}},\"data\":{\"level\":3}}}";

/* ------------------------------------------------------------ outcomes */

struct outcomes {
    atomic_int delivered;
    atomic_int rejected;
    atomic_int malformed;
    atomic_int on_main_thread;
    atomic_int sleep_ms;
    pthread_t main_thread;
};

static void on_outcome(void *user_data, const char *outcome_json) {
    struct outcomes *o = user_data;
    if (pthread_equal(pthread_self(), o->main_thread)) atomic_fetch_add(&o->on_main_thread, 1);
    if (!has(outcome_json, "\"eventId\":\"") || !has(outcome_json, "\"attempts\":")) {
        atomic_fetch_add(&o->malformed, 1);
    }
    if (has(outcome_json, "\"outcome\":\"delivered\"")) atomic_fetch_add(&o->delivered, 1);
    if (has(outcome_json, "\"outcome\":\"rejected\"")) atomic_fetch_add(&o->rejected, 1);
    int pause = atomic_load(&o->sleep_ms);
    if (pause > 0) sleep_ms(pause);
}

/* ------------------------------------------------------------ tests */

static void test_send_flush_stats_close(void) {
    current_test = "send, flush, stats, outcomes, close";
    char dir[256], file[300];
    temp_queue(dir, sizeof dir, file, sizeof file);
    aep_edge_client *c = client_for(BASE_URL, file, NULL);
    struct outcomes o = {0};
    o.main_thread = pthread_self();
    CHECK(aep_edge_set_outcome_callback(c, on_outcome, &o) == AEP_EDGE_OK, "set_outcome_callback", NULL);

    for (int i = 0; i < 50; i++) {
        char *out = NULL;
        aep_edge_status s = aep_edge_send_event(c, EVENT, &out);
        if (!CHECK(s == AEP_EDGE_OK && has(out, "\"eventId\":\"") && has(out, "\"queued\":"),
                   "send_event returns the eventId and the queue length", out)) {
            aep_edge_string_free(out);
            break;
        }
        aep_edge_string_free(out);
    }
    char *report = NULL;
    aep_edge_status s = aep_edge_flush(c, 20000, &report);
    CHECK(s == AEP_EDGE_OK, "flush OK", report);
    CHECK(has(report, "\"queued\":0") && has(report, "\"delivered\":50") && !has(report, "\"error\""),
          "flush report is the stats", report);
    aep_edge_string_free(report);
    CHECK(atomic_load(&o.delivered) == 50, "50 delivered outcomes", NULL);
    CHECK(atomic_load(&o.malformed) == 0 && atomic_load(&o.rejected) == 0, "outcome JSON shape", NULL);
    CHECK(atomic_load(&o.on_main_thread) == 0, "outcomes run on the dispatcher thread", NULL);

    char *stats = NULL;
    CHECK(aep_edge_stats(c, &stats) == AEP_EDGE_OK, "stats OK", stats);
    const char *keys[] = {"\"queued\":0", "\"inFlight\":0", "\"delivered\":50", "\"rejected\":{}",
                          "\"retries\":", "\"batches\":", "\"oldestAgeMs\":0", "\"bytes\":0"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) CHECK(has(stats, keys[i]), keys[i], stats);
    aep_edge_string_free(stats);

    report = NULL;
    s = aep_edge_client_close(c, 5000, &report);
    CHECK(s == AEP_EDGE_OK && has(report, "\"undelivered\":0") && has(report, "\"inFlight\":0"),
          "close OK with undelivered 0", report);
    aep_edge_string_free(report);
    char *out = NULL;
    CHECK(aep_edge_send_event(c, EVENT, &out) == AEP_EDGE_CLOSED && has(out, "\"kind\":\"closed\""),
          "send_event after close is CLOSED", out);
    aep_edge_string_free(out);
    aep_edge_client_free(c);
    remove_queue(dir, file);
}

static void test_bad_input(void) {
    current_test = "bad input";
    aep_edge_client *c = client_for(BASE_URL, NULL, NULL);
    char *out = NULL;
    CHECK(aep_edge_send_event(NULL, EVENT, &out) == AEP_EDGE_NULL_ARGUMENT && has(out, "null_argument"),
          "NULL client", out);
    aep_edge_string_free(out);
    CHECK(aep_edge_send_event(c, EVENT, NULL) == AEP_EDGE_NULL_ARGUMENT, "NULL result_json_out", NULL);
    out = NULL;
    CHECK(aep_edge_send_event(c, NULL, &out) == AEP_EDGE_NULL_ARGUMENT, "NULL request", out);
    aep_edge_string_free(out);
    out = NULL;
    CHECK(aep_edge_send_event(c, "{\"event\":", &out) == AEP_EDGE_INVALID_JSON && has(out, "invalid_json"),
          "invalid JSON", out);
    aep_edge_string_free(out);
    out = NULL;
    CHECK(aep_edge_send_event(c, "{\"events\":[{}]}", &out) == AEP_EDGE_INVALID_REQUEST &&
              has(out, "unknown key events"),
          "a collect-shaped request is refused by name", out);
    aep_edge_string_free(out);
    out = NULL;
    CHECK(aep_edge_send_event(c, "{\"event\":{},\"options\":{\"requestId\":\"r\"}}", &out) ==
              AEP_EDGE_INVALID_REQUEST && has(out, "options.requestId"),
          "options.requestId is refused", out);
    aep_edge_string_free(out);
    out = NULL;
    CHECK(aep_edge_send_event(c, "{\"event\":{\"xdm\":{\"_id\":\"\\xff\"}}}", &out) != AEP_EDGE_OK,
          "bad escape refused", out);
    aep_edge_string_free(out);
    out = NULL;
    CHECK(aep_edge_stats(c, NULL) == AEP_EDGE_NULL_ARGUMENT, "stats NULL out", NULL);
    CHECK(aep_edge_stats(NULL, &out) == AEP_EDGE_NULL_ARGUMENT, "stats NULL client", out);
    aep_edge_string_free(out);
    CHECK(aep_edge_flush(NULL, 10, NULL) == AEP_EDGE_NULL_ARGUMENT, "flush NULL client", NULL);
    CHECK(aep_edge_set_outcome_callback(NULL, on_outcome, NULL) == AEP_EDGE_NULL_ARGUMENT,
          "set_outcome_callback NULL client", NULL);
    out = NULL;
    CHECK(aep_edge_stats(c, &out) == AEP_EDGE_OK && has(out, "\"queued\":0"), "nothing was stored", out);
    aep_edge_string_free(out);
    /* The in-memory queue (no path) works the same. */
    out = NULL;
    CHECK(aep_edge_send_event(c, EVENT, &out) == AEP_EDGE_OK, "in-memory send", out);
    aep_edge_string_free(out);
    out = NULL;
    CHECK(aep_edge_flush(c, 20000, &out) == AEP_EDGE_OK && has(out, "\"delivered\":1"), "in-memory flush", out);
    aep_edge_string_free(out);
    aep_edge_client_close(c, 1000, NULL);
    aep_edge_client_free(c);
}

static void test_second_client_refused(void) {
    current_test = "second client on the same file";
    char dir[256], file[300];
    temp_queue(dir, sizeof dir, file, sizeof file);
    aep_edge_client *first = client_for(BASE_URL, file, NULL);
    char config[1024];
    snprintf(config, sizeof config, "{\"datastreamId\":\"known-ds\",\"baseUrl\":\"%s\",\"queue\":{\"path\":\"%s\"}}",
             BASE_URL, file);
    aep_edge_client *second = (aep_edge_client *)1;
    char *error = NULL;
    aep_edge_status s = aep_edge_client_new(config, &second, &error);
    CHECK(s == AEP_EDGE_STORAGE_ERROR && second == NULL, "STORAGE_ERROR, client_out NULL", error);
    CHECK(has(error, file) && has(error, "\"kind\":\"storage\""), "the error names the file", error);
    aep_edge_string_free(error);

    CHECK(aep_edge_client_close(first, 2000, NULL) == AEP_EDGE_OK, "close the first", NULL);
    aep_edge_client_free(first);
    /* The file is free once the first one's dispatcher has exited. */
    aep_edge_client *again = NULL;
    for (int i = 0; i < 200 && again == NULL; i++) {
        error = NULL;
        if (aep_edge_client_new(config, &again, &error) != AEP_EDGE_OK) sleep_ms(10);
        aep_edge_string_free(error);
    }
    CHECK(again != NULL, "a new client opens the file after the first closed", NULL);
    aep_edge_client_close(again, 1000, NULL);
    aep_edge_client_free(again);
    remove_queue(dir, file);
}

static void test_unreachable_then_delivered(void) {
    current_test = "unreachable Edge: flush and close time out, the file keeps the events";
    char dir[256], file[300], dead[64];
    temp_queue(dir, sizeof dir, file, sizeof file);
    snprintf(dead, sizeof dead, "http://127.0.0.1:%d", closed_loopback_port());
    aep_edge_client *c = client_for(dead, file, NULL);
    for (int i = 0; i < 5; i++) {
        char *out = NULL;
        CHECK(aep_edge_send_event(c, EVENT, &out) == AEP_EDGE_OK, "send while unreachable", out);
        aep_edge_string_free(out);
    }
    char *report = NULL;
    aep_edge_status s = aep_edge_flush(c, 300, &report);
    CHECK(s == AEP_EDGE_TIMEOUT, "flush TIMEOUT", report);
    CHECK(has(report, "\"queued\":5") && !has(report, "\"error\""), "flush report is the stats", report);
    aep_edge_string_free(report);
    report = NULL;
    s = aep_edge_client_close(c, 200, &report);
    CHECK(s == AEP_EDGE_TIMEOUT, "close TIMEOUT", report);
    CHECK(has(report, "\"undelivered\":5") && has(report, "\"inFlight\":") && has(report, "\"kind\":\"timeout\""),
          "close report: undelivered 5", report);
    aep_edge_string_free(report);
    double before = now_ms();
    aep_edge_client_free(c);
    CHECK(now_ms() - before < 2000, "free does not wait for the dispatcher", NULL);

    aep_edge_client *next = NULL;
    for (int i = 0; i < 300 && next == NULL; i++) {
        char config[1024];
        char *error = NULL;
        snprintf(config, sizeof config,
                 "{\"datastreamId\":\"known-ds\",\"baseUrl\":\"%s\",\"queue\":{\"path\":\"%s\"}}", BASE_URL, file);
        if (aep_edge_client_new(config, &next, &error) != AEP_EDGE_OK) sleep_ms(10);
        aep_edge_string_free(error);
    }
    if (!CHECK(next != NULL, "the next client opens the file", NULL)) return;
    char *stats = NULL;
    aep_edge_stats(next, &stats);
    CHECK(has(stats, "\"queued\":5"), "the next client finds the 5 events", stats);
    aep_edge_string_free(stats);
    report = NULL;
    CHECK(aep_edge_flush(next, 20000, &report) == AEP_EDGE_OK && has(report, "\"delivered\":5"),
          "and delivers them", report);
    aep_edge_string_free(report);
    aep_edge_client_close(next, 1000, NULL);
    aep_edge_client_free(next);
    remove_queue(dir, file);
}

static void test_no_outcome_after_free(void) {
    current_test = "no outcome callback after free";
    aep_edge_client *c = client_for(BASE_URL, NULL, ",\"queue\":{\"maxBatchEvents\":1,\"flushIntervalMs\":0}");
    struct outcomes o = {0};
    o.main_thread = pthread_self();
    atomic_store(&o.sleep_ms, 2);
    aep_edge_set_outcome_callback(c, on_outcome, &o);
    for (int i = 0; i < 200; i++) {
        char *out = NULL;
        aep_edge_send_event(c, EVENT, &out);
        aep_edge_string_free(out);
    }
    sleep_ms(50);
    aep_edge_client_close(c, 0, NULL);
    aep_edge_client_free(c);
    int at_free = atomic_load(&o.delivered) + atomic_load(&o.rejected);
    sleep_ms(300);
    int later = atomic_load(&o.delivered) + atomic_load(&o.rejected);
    CHECK(later == at_free, "no callback ran after free returned", NULL);
    CHECK(at_free < 200, "free came while events were still queued", NULL);
}

static void test_consent_denied(void) {
    current_test = "consent n";
    aep_edge_client *c = client_for(BASE_URL, NULL, NULL);
    char *out = NULL;
    aep_edge_status s = aep_edge_set_consent(
        c, "{\"consent\":[{\"standard\":\"Adobe\",\"version\":\"2.0\",\"value\":{\"collect\":{\"val\":\"n\"}}}]}",
        &out);
    CHECK(s == AEP_EDGE_OK, "set_consent n", out);
    aep_edge_string_free(out);
    out = NULL;
    CHECK(aep_edge_send_event(c, EVENT, &out) == AEP_EDGE_CONSENT_DENIED && has(out, "consent_denied"),
          "send_event with consent n", out);
    aep_edge_string_free(out);
    aep_edge_client_close(c, 1000, NULL);
    aep_edge_client_free(c);
}

static void test_fork_keeps_the_file_the_parents(void) {
    current_test = "fork: the queue file stays the parent's";
    char dir[256], file[300];
    temp_queue(dir, sizeof dir, file, sizeof file);
    aep_edge_client *c = client_for(BASE_URL, file, NULL);
    char *out = NULL;
    aep_edge_send_event(c, EVENT, &out);
    aep_edge_string_free(out);
    /* The child answers through a pipe: under valgrind its exit status reports
       the parent's memory it inherited and never frees. */
    int answer[2];
    if (pipe(answer) != 0) {
        perror("pipe");
        exit(2);
    }
    pid_t pid = fork();
    if (pid == 0) {
        alarm(30); /* a child that blocks fails the test instead of hanging it */
        char *child_out = NULL;
        aep_edge_status s = aep_edge_send_event(c, EVENT, &child_out);
        char verdict = (s == AEP_EDGE_STORAGE_ERROR && has(child_out, "parent")) ? 'y' : 'n';
        if (write(answer[1], &verdict, 1) != 1) _exit(4);
        _exit(0);
    }
    close(answer[1]);
    char verdict = 0;
    if (read(answer[0], &verdict, 1) != 1) verdict = 0;
    close(answer[0]);
    waitpid(pid, NULL, 0);
    CHECK(verdict == 'y', "in the child, send_event on the parent's file client is STORAGE_ERROR", NULL);
    out = NULL;
    CHECK(aep_edge_send_event(c, EVENT, &out) == AEP_EDGE_OK, "the parent goes on", out);
    aep_edge_string_free(out);
    out = NULL;
    CHECK(aep_edge_flush(c, 20000, &out) == AEP_EDGE_OK && has(out, "\"delivered\":2"),
          "and delivers both", out);
    aep_edge_string_free(out);
    aep_edge_client_close(c, 1000, NULL);
    aep_edge_client_free(c);
    remove_queue(dir, file);
}

int main(int argc, char **argv) {
    BASE_URL = argc > 1 ? argv[1] : getenv("AEP_EDGE_BASE_URL");
    if (BASE_URL == NULL) {
        fprintf(stderr, "usage: queue_test BASE_URL (or set AEP_EDGE_BASE_URL)\n");
        return 2;
    }
    test_send_flush_stats_close();
    test_bad_input();
    test_second_client_refused();
    test_unreachable_then_delivered();
    test_no_outcome_after_free();
    test_consent_denied();
    test_fork_keeps_the_file_the_parents();
    return test_summary();
}
