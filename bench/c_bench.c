/*
 * One keep-alive connection, the same server and the same body for three
 * clients, in interleaved rounds:
 *   raw     a raw socket with a hand-built HTTP/1.1 request (the loopback limit)
 *   curl    libcurl with one reused easy handle
 *   aep     aep_edge_interact through the C ABI (session "none")
 * and, with --capacity, the emulator's own capacity: raw-socket loops on
 * THREADS connections at once.
 *
 *   c_bench BASE_URL CALLS_PER_ROUND ROUNDS          → JSON lines on stdout
 *   c_bench BASE_URL CALLS --capacity THREADS        → one JSON line
 *
 * Each line: {"client", "calls", "callsPerSec" (median of the rounds), "p50Us", "p99Us"}.
 */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "aep_edge.h"

/* The source document's event, as aep_edge sends it with session "none"
 * (ids fixed, so every client sends the same bytes). */
static const char *EVENT_BODY =
    "{\"event\":{\"xdm\":{\"identityMap\":{\"Email_LC_SHA256\":[{\"id\":"
    "\"0c7e6a405862e402eb76a70f8a26fc732d07c32931e9fae9ab1582911d2e8a3b\","
    "\"primary\":true}]},\"eventType\":\"web.webpagedetails.pageViews\","
    "\"web\":{\"webPageDetails\":{\"URL\":\"https://alloystore.dev/\","
    "\"name\":\"home-demo-Home Page\"}},\"timestamp\":\"2021-08-09T14:09:20.859Z\","
    "\"_id\":\"8d6d5a1c-6b0e-4a3e-9d55-2a1f8f0a7d10\"},"
    "\"data\":{\"prop1\":\"custom value\"}}}";
/* What the caller passes to aep_edge_interact: the event without the _id it adds. */
static const char *EVENT_REQUEST =
    "{\"event\":{\"xdm\":{\"identityMap\":{\"Email_LC_SHA256\":[{\"id\":"
    "\"0c7e6a405862e402eb76a70f8a26fc732d07c32931e9fae9ab1582911d2e8a3b\","
    "\"primary\":true}]},\"eventType\":\"web.webpagedetails.pageViews\","
    "\"web\":{\"webPageDetails\":{\"URL\":\"https://alloystore.dev/\","
    "\"name\":\"home-demo-Home Page\"}},\"timestamp\":\"2021-08-09T14:09:20.859Z\"},"
    "\"data\":{\"prop1\":\"custom value\"}}}";
static const char *PATH = "/ee/v2/interact?dataStreamId=bench&requestId=6c1f1e9e-1b7a-4f57-9d6c-5c4d7f0b1a22";

static char host[256];
static int port;

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void die(const char *what) {
    fprintf(stderr, "c_bench: %s\n", what);
    exit(1);
}

/* ---- raw socket ---- */

struct raw {
    int fd;
    char request[4096];
    size_t request_len;
    char buf[65536];
};

static void raw_open(struct raw *r) {
    r->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, host, &a.sin_addr);
    if (connect(r->fd, (struct sockaddr *)&a, sizeof a) != 0) die("connect failed");
    int one = 1;
    setsockopt(r->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    r->request_len = (size_t)snprintf(
        r->request, sizeof r->request,
        "POST %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: c-raw\r\nAccept: application/json\r\n"
        "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
        PATH, host, port, strlen(EVENT_BODY), EVENT_BODY);
}

/* Sends one request and reads the whole response (Content-Length framing). */
static void raw_call(struct raw *r) {
    if (write(r->fd, r->request, r->request_len) != (ssize_t)r->request_len) die("write failed");
    size_t have = 0;
    long body_len = -1;
    size_t header_end = 0;
    for (;;) {
        ssize_t n = read(r->fd, r->buf + have, sizeof r->buf - have - 1);
        if (n <= 0) die("read failed");
        have += (size_t)n;
        r->buf[have] = 0;
        if (body_len < 0) {
            char *end = strstr(r->buf, "\r\n\r\n");
            if (end == NULL) continue;
            header_end = (size_t)(end - r->buf) + 4;
            char *cl = strcasestr(r->buf, "\r\ncontent-length:");
            if (cl == NULL || cl > end) die("no content-length");
            body_len = strtol(cl + 17, NULL, 10);
            if (strncmp(r->buf, "HTTP/1.1 200", 12) != 0) die("not a 200");
        }
        if (have >= header_end + (size_t)body_len) break;
    }
}

/* ---- libcurl ---- */

struct sink {
    char *data;
    size_t len, cap;
};

static size_t on_data(char *p, size_t size, size_t n, void *user) {
    struct sink *s = user;
    size_t add = size * n;
    if (s->len + add > s->cap) {
        s->cap = (s->len + add) * 2;
        s->data = realloc(s->data, s->cap);
    }
    memcpy(s->data + s->len, p, add);
    s->len += add;
    return add;
}

struct curl_client {
    CURL *easy;
    struct curl_slist *headers;
    struct sink sink;
};

static void curl_open(struct curl_client *c, const char *base_url) {
    static char url[1024];
    snprintf(url, sizeof url, "%s%s", base_url, PATH);
    c->easy = curl_easy_init();
    c->headers = curl_slist_append(NULL, "Content-Type: application/json");
    c->headers = curl_slist_append(c->headers, "Accept: application/json");
    c->headers = curl_slist_append(c->headers, "Expect:");
    curl_easy_setopt(c->easy, CURLOPT_URL, url);
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, EVENT_BODY);
    curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(EVENT_BODY));
    curl_easy_setopt(c->easy, CURLOPT_USERAGENT, "c-curl");
    curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, &c->sink);
    curl_easy_setopt(c->easy, CURLOPT_TCP_NODELAY, 1L);
    memset(&c->sink, 0, sizeof c->sink);
}

static void curl_call(struct curl_client *c) {
    c->sink.len = 0;
    if (curl_easy_perform(c->easy) != CURLE_OK) die("curl_easy_perform failed");
    long status = 0;
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) die("curl: not a 200");
}

/* ---- aep_edge ---- */

static void aep_call(struct aep_edge_client *client) {
    char *result = NULL;
    aep_edge_status s = aep_edge_interact(client, EVENT_REQUEST, &result);
    if (s != AEP_EDGE_OK) {
        fprintf(stderr, "%s\n", result ? result : "(no result)");
        die("aep_edge_interact failed");
    }
    aep_edge_string_free(result);
}

/* ---- measuring ---- */

enum { C_RAW, C_CURL, C_AEP, CLIENTS };
static const char *NAMES[CLIENTS] = {"c-raw-socket", "c-libcurl", "c-aep-edge"};

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *name, double *lat, size_t n, double *rates, int rounds) {
    qsort(lat, n, sizeof *lat, cmp_double);
    qsort(rates, (size_t)rounds, sizeof *rates, cmp_double);
    printf("{\"client\":\"%s\",\"calls\":%zu,\"callsPerSec\":%.0f,\"p50Us\":%.1f,\"p99Us\":%.1f}\n",
           name, n, rates[rounds / 2], lat[n / 2], lat[(size_t)(n * 0.99)]);
    fflush(stdout);
}

struct capacity_arg {
    long calls;
};

static void *capacity_thread(void *p) {
    struct capacity_arg *a = p;
    struct raw *r = malloc(sizeof *r);
    raw_open(r);
    for (long i = 0; i < a->calls; i++) raw_call(r);
    close(r->fd);
    free(r);
    return NULL;
}

static void parse_base_url(const char *base_url) {
    if (sscanf(base_url, "http://%255[^:]:%d", host, &port) != 2) die("BASE_URL must be http://IP:PORT");
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s BASE_URL CALLS ROUNDS | BASE_URL CALLS --capacity THREADS\n", argv[0]);
        return 64;
    }
    const char *base_url = argv[1];
    parse_base_url(base_url);
    long calls = atol(argv[2]);

    if (strcmp(argv[3], "--capacity") == 0) {
        int threads = argc > 4 ? atoi(argv[4]) : 4;
        pthread_t t[64];
        struct capacity_arg a = {calls};
        double started = now_us();
        for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, capacity_thread, &a);
        for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
        double secs = (now_us() - started) / 1e6;
        printf("{\"client\":\"emulator-capacity\",\"threads\":%d,\"calls\":%ld,\"callsPerSec\":%.0f}\n",
               threads, calls * threads, calls * threads / secs);
        return 0;
    }

    int rounds = atoi(argv[3]);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct raw *raw = malloc(sizeof *raw);
    raw_open(raw);
    struct curl_client curl;
    curl_open(&curl, base_url);
    char config[1024];
    snprintf(config, sizeof config,
             "{\"datastreamId\":\"bench\",\"baseUrl\":\"%s\",\"session\":\"none\"}", base_url);
    struct aep_edge_client *client = NULL;
    char *error = NULL;
    if (aep_edge_client_new(config, &client, &error) != AEP_EDGE_OK) die(error);

    /* Warm up: connections open, caches filled. */
    for (int i = 0; i < 200; i++) {
        raw_call(raw);
        curl_call(&curl);
        aep_call(client);
    }

    size_t total = (size_t)calls * (size_t)rounds;
    double *lat[CLIENTS], *rates[CLIENTS];
    for (int c = 0; c < CLIENTS; c++) {
        lat[c] = malloc(total * sizeof(double));
        rates[c] = malloc((size_t)rounds * sizeof(double));
    }
    for (int round = 0; round < rounds; round++) {
        for (int k = 0; k < CLIENTS; k++) {
            /* A different client first in each round, so none always runs warm. */
            int c = (k + round) % CLIENTS;
            double started = now_us();
            for (long i = 0; i < calls; i++) {
                double t = now_us();
                if (c == C_RAW) raw_call(raw);
                else if (c == C_CURL) curl_call(&curl);
                else aep_call(client);
                lat[c][(size_t)round * (size_t)calls + (size_t)i] = now_us() - t;
            }
            rates[c][round] = calls / ((now_us() - started) / 1e6);
        }
    }
    for (int c = 0; c < CLIENTS; c++) report(NAMES[c], lat[c], total, rates[c], rounds);

    aep_edge_client_close(client, 1000, NULL);
    aep_edge_client_free(client);
    curl_easy_cleanup(curl.easy);
    curl_slist_free_all(curl.headers);
    close(raw->fd);
    return 0;
}
