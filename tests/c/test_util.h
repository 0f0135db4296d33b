/*
 * Helpers shared by the C test programs in tests/c/ (C11, POSIX). Each program
 * is one translation unit that includes this header once, so everything here
 * is `static` (functions `static inline`: a program that does not use one gets
 * no warning). The including program defines _POSIX_C_SOURCE 200809L before
 * any #include.
 *
 * Checks (thread-safe: callbacks and worker threads may check too)
 *   current_test             the name failures are reported under; a test sets it first.
 *   CHECK(cond, what, json)  counts a check; on failure prints "FAIL [test] line N: what"
 *                            and `json` (may be NULL) cut at 1500 characters. Returns
 *                            whether it passed.
 *   CHECK_STATUS(got, want, json)  the same for two aep_edge_status values.
 *   check_at(ok, what, json, line) what the macros call, for helpers that check on
 *                            behalf of a caller and report the caller's line.
 *   test_summary()           prints the "N passed, M failed" line run.sh reads and
 *                            returns main's exit status (0 only when nothing failed).
 * Strings
 *   has(json, needle)        1 when json is not NULL and contains needle.
 *   count_of(text, needle)   how often needle occurs in text (0 for NULL).
 * Time
 *   SCALE, read_time_scale() AEP_EDGE_TEST_TIME_SCALE (an integer, default 1), read by
 *                            main; ms(n) is n milliseconds stretched by it, for delays and
 *                            timeouts that must hold under valgrind.
 *   now_ms(), sleep_ms(n)    the monotonic clock in ms; a sleep that resumes after EINTR.
 * The emulator's control endpoints (/__emulator/..., plain HTTP to a loopback base URL)
 *   http_exchange(base, method, path, body, &body_out)  one request; the status or -1.
 *                            *body_out (when body_out is not NULL) is a malloc'd copy of
 *                            the response body, or NULL: the caller free()s it.
 *   The helpers marked "checked" count a check and report the caller's line on failure.
 *   emu_reset(base), emu_fault(base, fault_json)  reset; queue a fault (both checked).
 *   emu_delay(base, path_part, count, delay_ms)  queues a fault that delays the next
 *                            `count` requests whose path contains path_part (checked).
 *   emu_requests(base)       the recorded requests, a malloc'd JSON array (checked: 200);
 *                            the caller free()s it. emu_requests_quiet: the same unchecked,
 *                            for polling.
 *   emu_count(base, needle)  how many recorded requests contain needle ("\"method\":"
 *                            counts them all); unchecked. emu_request_count(base): all of
 *                            them, checked.
 *   emu_wait_for(base, needle, n, timeout_ms)  polls until needle was recorded n times;
 *                            1 on success, 0 at the timeout.
 * Clients
 *   DATASTREAM               the datastream run.sh starts the main emulator with.
 *   config_for(base, extra)  a client config for base with the timeouts scaled; extra is
 *                            `,"key":...` text appended to it. Malloc'd: the caller free()s it.
 *   client_with(base, extra) a client of that config (checked); the caller frees it with
 *                            aep_edge_client_free. Without a client the program cannot go
 *                            on: it prints the tally and exits 1.
 *   closed_loopback_port()   a loopback port nothing listens on (bound, then closed).
 */
#ifndef AEP_EDGE_TEST_UTIL_H
#define AEP_EDGE_TEST_UTIL_H

#if !defined(_POSIX_C_SOURCE) || _POSIX_C_SOURCE < 200809L
#error "define _POSIX_C_SOURCE 200809L before any #include"
#endif

#include "aep_edge.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ checks */

static pthread_mutex_t check_mu = PTHREAD_MUTEX_INITIALIZER;
static int passed;
static int failed;
static const char *current_test = "";

static inline int check_at(int ok, const char *what, const char *json, int line) {
    pthread_mutex_lock(&check_mu);
    if (ok) {
        passed++;
    } else {
        failed++;
        fprintf(stderr, "FAIL [%s] line %d: %s\n", current_test, line, what);
        if (json != NULL) {
            fprintf(stderr, "      json: %.1500s%s\n", json, strlen(json) > 1500 ? "..." : "");
        }
    }
    pthread_mutex_unlock(&check_mu);
    return ok;
}

#define CHECK(cond, what, json) check_at((cond) ? 1 : 0, (what), (json), __LINE__)
#define CHECK_STATUS(got, want, json) \
    check_at((uint32_t)(got) == (uint32_t)(want), "status " #got " == " #want, (json), __LINE__)

static inline int test_summary(void) {
    int ok;
    pthread_mutex_lock(&check_mu);
    printf("%d passed, %d failed\n", passed, failed);
    ok = failed == 0;
    pthread_mutex_unlock(&check_mu);
    fflush(stdout);
    return ok ? 0 : 1;
}

/* ------------------------------------------------------------------ strings */

static inline int has(const char *json, const char *needle) {
    return json != NULL && strstr(json, needle) != NULL;
}

static inline int count_of(const char *haystack, const char *needle) {
    int n = 0;
    const char *p = haystack;
    if (p == NULL) {
        return 0;
    }
    while ((p = strstr(p, needle)) != NULL) {
        n++;
        p += strlen(needle);
    }
    return n;
}

/* ------------------------------------------------------------------ time */

static long SCALE = 1;

static inline void read_time_scale(void) {
    const char *scale = getenv("AEP_EDGE_TEST_TIME_SCALE");
    if (scale != NULL && atol(scale) > 0) {
        SCALE = atol(scale);
    }
}

static inline long ms(long n) { return n * SCALE; }

static inline double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static inline void sleep_ms(long n) {
    struct timespec ts;
    ts.tv_sec = n / 1000;
    ts.tv_nsec = (n % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ------------------------------------------------------------------ the emulator */

/* One HTTP/1.1 exchange with `Connection: close` to a loopback base URL.
 * Returns the status code (or -1) and, when body_out is not NULL, a malloc'd body. */
static inline int http_exchange(const char *base, const char *method, const char *path,
                                const char *body, char **body_out) {
    char host[64], head[512];
    unsigned port = 0;
    struct sockaddr_in addr;
    int fd, status = -1;
    size_t blen = body ? strlen(body) : 0, cap = 8192, len = 0;
    char *resp;
    const char *p;
    ssize_t n;

    if (body_out) {
        *body_out = NULL;
    }
    if (sscanf(base, "http://%63[^:]:%u", host, &port) != 2) {
        return -1;
    }
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        return -1;
    }
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    snprintf(head, sizeof head,
             "%s %s HTTP/1.1\r\nHost: %s:%u\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\nConnection: close\r\n\r\n",
             method, path, host, port, blen);
    if (write(fd, head, strlen(head)) < 0 || (blen && write(fd, body, blen) < 0)) {
        close(fd);
        return -1;
    }
    resp = malloc(cap);
    if (resp == NULL) {
        close(fd);
        return -1;
    }
    for (;;) {
        if (cap - len < 4096) {
            char *bigger = realloc(resp, cap * 2);
            if (bigger == NULL) {
                break;
            }
            resp = bigger;
            cap *= 2;
        }
        n = read(fd, resp + len, cap - len - 1);
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
    }
    close(fd);
    resp[len] = '\0';
    if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1) {
        status = -1;
    }
    p = strstr(resp, "\r\n\r\n");
    if (body_out) {
        *body_out = strdup(p ? p + 4 : "");
    }
    free(resp);
    return status;
}

/* The checked helpers below are called through macros of their name, so that a
 * failure reports the line of the test that called them. */

static inline void emu_reset_at(const char *base, int line) {
    int s = http_exchange(base, "POST", "/__emulator/reset", "", NULL);
    check_at(s == 200, "POST /__emulator/reset answers 200", NULL, line);
}
#define emu_reset(base) emu_reset_at((base), __LINE__)

static inline void emu_fault_at(const char *base, const char *fault_json, int line) {
    char *body = NULL;
    int s = http_exchange(base, "POST", "/__emulator/faults", fault_json, &body);
    check_at(s == 200 && has(body, "\"ok\":true"), "POST /__emulator/faults accepted", body,
             line);
    free(body);
}
#define emu_fault(base, fault_json) emu_fault_at((base), (fault_json), __LINE__)

/* Delays the next `count` requests whose path contains `path_part` by `delay_ms`. */
static inline void emu_delay_at(const char *base, const char *path_part, int count, long delay_ms,
                                int line) {
    char fault[256];
    snprintf(fault, sizeof fault, "{\"count\":%d,\"delayMs\":%ld,\"pathContains\":\"%s\"}",
             count, delay_ms, path_part);
    emu_fault_at(base, fault, line);
}
#define emu_delay(base, path_part, count, delay_ms) \
    emu_delay_at((base), (path_part), (count), (delay_ms), __LINE__)

/* The recorded requests (malloc'd JSON array text). */
static inline char *emu_requests_at(const char *base, int line) {
    char *body = NULL;
    int s = http_exchange(base, "GET", "/__emulator/requests", NULL, &body);
    check_at(s == 200, "GET /__emulator/requests answers 200", body, line);
    return body;
}
#define emu_requests(base) emu_requests_at((base), __LINE__)

/* The same without counting a check: for polling. */
static inline char *emu_requests_quiet(const char *base) {
    char *body = NULL;
    http_exchange(base, "GET", "/__emulator/requests", NULL, &body);
    return body;
}

/* How many recorded requests contain `needle`, unchecked. */
static inline int emu_count(const char *base, const char *needle) {
    char *body = emu_requests_quiet(base);
    int n = count_of(body, needle);
    free(body);
    return n;
}

/* How many requests were recorded, checked. */
static inline int emu_request_count_at(const char *base, int line) {
    char *body = emu_requests_at(base, line);
    int n = count_of(body, "\"method\":");
    free(body);
    return n;
}
#define emu_request_count(base) emu_request_count_at((base), __LINE__)

/* Waits until `needle` was recorded n times; 1 on success. */
static inline int emu_wait_for(const char *base, const char *needle, int n, long timeout_ms) {
    double deadline = now_ms() + (double)timeout_ms;
    while (now_ms() < deadline) {
        if (emu_count(base, needle) >= n) {
            return 1;
        }
        sleep_ms(10);
    }
    return 0;
}

/* ------------------------------------------------------------------ clients */

#define DATASTREAM "known-ds"

static inline char *config_for(const char *base, const char *extra) {
    size_t n = strlen(base) + strlen(extra) + 512;
    char *cfg = malloc(n);
    if (cfg == NULL) {
        abort();
    }
    snprintf(cfg, n,
             "{\"datastreamId\":\"" DATASTREAM "\",\"baseUrl\":\"%s\","
             "\"timeouts\":{\"connectMs\":%ld,\"requestMs\":%ld,\"totalMs\":%ld}%s}",
             base, ms(5000), ms(20000), ms(60000), extra);
    return cfg;
}

/* A client for `base` with `extra` (`,"key":...` text) appended to the config. */
static inline aep_edge_client *client_with_at(const char *base, const char *extra, int line) {
    char *cfg = config_for(base, extra);
    aep_edge_client *client = NULL;
    char *err = NULL;
    aep_edge_status s = aep_edge_client_new(cfg, &client, &err);
    check_at(s == AEP_EDGE_OK, "status aep_edge_client_new(...) == AEP_EDGE_OK", err, line);
    check_at(client != NULL, "client_new gave a client", err, line);
    aep_edge_string_free(err);
    free(cfg);
    if (client == NULL) {
        fprintf(stderr, "cannot create a client; stopping\n");
        test_summary();
        exit(1);
    }
    return client;
}
#define client_with(base, extra) client_with_at((base), (extra), __LINE__)

static inline int closed_loopback_port(void) {
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        abort();
    }
    port = ntohs(addr.sin_port);
    close(fd);
    return port;
}

#endif /* AEP_EDGE_TEST_UTIL_H */
