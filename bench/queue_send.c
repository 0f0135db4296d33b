/*
 * Benchmark: latency of aep_edge_send_event with a queue file (design.md §3.7),
 * while the dispatcher delivers to the emulator at the same time.
 *
 *   queue_send BASE_URL [EVENTS] [SYNC]     SYNC: normal (default) | full
 *
 * Prints one line: "send_event  sync=normal  events=N  p50=.. us  p99=.. us  max=.. us
 * cpu-p99=.. us": wall-clock percentiles, and the 99th percentile of the calling
 * thread's CPU time per call (what the call costs when the machine's other work
 * does not preempt it; on a loaded machine the wall-clock p99 measures the load).
 * A benchmark, not a test: it asserts nothing about speed.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE

#include "aep_edge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *EVENT =
    "{\"event\":{\"xdm\":{\"eventType\":\"game.level.complete\","
    "\"identityMap\":{\"FPID\":[{\"id\":\"player-1\"}]}},\"data\":{\"level\":3,\"score\":1200}}}";

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static double cpu_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: queue_send BASE_URL [EVENTS] [normal|full]\n");
        return 2;
    }
    const char *base = argv[1];
    long n = argc > 2 ? atol(argv[2]) : 20000;
    const char *sync = argc > 3 ? argv[3] : "normal";
    char dir[] = "/tmp/aep-edge-bench-XXXXXX";
    if (mkdtemp(dir) == NULL) return 2;
    char file[128], config[1024];
    snprintf(file, sizeof file, "%s/events.db", dir);
    snprintf(config, sizeof config,
             "{\"datastreamId\":\"bench\",\"baseUrl\":\"%s\",\"session\":\"none\","
             "\"queue\":{\"path\":\"%s\",\"sync\":\"%s\",\"maxEvents\":1000000}}",
             base, file, sync);
    aep_edge_client *client = NULL;
    char *error = NULL;
    if (aep_edge_client_new(config, &client, &error) != AEP_EDGE_OK) {
        fprintf(stderr, "client_new: %s\n", error);
        return 1;
    }
    /* Warm up: the dispatcher thread and SQLite's caches. */
    for (int i = 0; i < 200; i++) {
        char *out = NULL;
        aep_edge_send_event(client, EVENT, &out);
        aep_edge_string_free(out);
    }
    double *lat = malloc(sizeof(double) * (size_t)n);
    double *cpu = malloc(sizeof(double) * (size_t)n);
    for (long i = 0; i < n; i++) {
        char *out = NULL;
        double c0 = cpu_us();
        double t0 = now_us();
        aep_edge_status s = aep_edge_send_event(client, EVENT, &out);
        lat[i] = now_us() - t0;
        cpu[i] = cpu_us() - c0;
        if (s != AEP_EDGE_OK) {
            fprintf(stderr, "send_event failed: %s\n", out);
            return 1;
        }
        aep_edge_string_free(out);
    }
    qsort(lat, (size_t)n, sizeof(double), by_value);
    qsort(cpu, (size_t)n, sizeof(double), by_value);
    printf("send_event  sync=%s  events=%ld  p50=%.1f us  p99=%.1f us  max=%.1f us  cpu-p50=%.1f us  cpu-p99=%.1f us\n",
           sync, n, lat[n / 2], lat[(n * 99) / 100], lat[n - 1], cpu[n / 2], cpu[(n * 99) / 100]);
    aep_edge_flush(client, 60000, NULL);
    aep_edge_client_close(client, 5000, NULL);
    aep_edge_client_free(client);
    free(lat);
    free(cpu);
    char path[160];
    unlink(file);
    snprintf(path, sizeof path, "%s-wal", file);
    unlink(path);
    rmdir(dir);
    return 0;
}
