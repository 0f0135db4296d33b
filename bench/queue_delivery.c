/*
 * Benchmark: events per second delivered from a queue file to the emulator
 * (design.md §3.7). A first client stores EVENTS events while the Edge Network
 * is unreachable; a second client on the file delivers them, timed from its
 * aep_edge_client_new (the backlog starts its dispatcher) to the end of flush.
 *
 *   queue_delivery BASE_URL [EVENTS] [MAX_BATCH_EVENTS]
 *
 * Prints: "delivery  events=N  batch=B  seconds=S  events/s=R".
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE

#include "aep_edge.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *EVENT =
    "{\"event\":{\"xdm\":{\"eventType\":\"game.level.complete\","
    "\"identityMap\":{\"FPID\":[{\"id\":\"player-1\"}]}},\"data\":{\"level\":3,\"score\":1200}}}";

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int closed_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

static aep_edge_client *open_client(const char *base, const char *file, long batch) {
    char config[1024];
    snprintf(config, sizeof config,
             "{\"datastreamId\":\"bench\",\"baseUrl\":\"%s\",\"session\":\"none\","
             "\"retry\":{\"baseDelayMs\":60000,\"maxDelayMs\":60000},"
             "\"queue\":{\"path\":\"%s\",\"maxEvents\":10000000,\"maxBytes\":1099511627776,"
             "\"maxBatchEvents\":%ld}}",
             base, file, batch);
    aep_edge_client *client = NULL;
    char *error = NULL;
    for (int i = 0; i < 500; i++) { /* the first client's file lock goes with its dispatcher */
        aep_edge_string_free(error);
        error = NULL;
        if (aep_edge_client_new(config, &client, &error) == AEP_EDGE_OK) return client;
        usleep(10000);
    }
    fprintf(stderr, "client_new: %s\n", error);
    exit(1);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: queue_delivery BASE_URL [EVENTS] [MAX_BATCH_EVENTS]\n");
        return 2;
    }
    long n = argc > 2 ? atol(argv[2]) : 100000;
    long batch = argc > 3 ? atol(argv[3]) : 100;
    char dir[] = "/tmp/aep-edge-bench-XXXXXX";
    if (mkdtemp(dir) == NULL) return 2;
    char file[128], down[64];
    snprintf(file, sizeof file, "%s/events.db", dir);
    snprintf(down, sizeof down, "http://127.0.0.1:%d", closed_port());

    aep_edge_client *writer = open_client(down, file, batch);
    for (long i = 0; i < n; i++) {
        char *out = NULL;
        if (aep_edge_send_event(writer, EVENT, &out) != AEP_EDGE_OK) {
            fprintf(stderr, "send_event: %s\n", out);
            return 1;
        }
        aep_edge_string_free(out);
    }
    aep_edge_client_close(writer, 0, NULL);
    aep_edge_client_free(writer);

    double t0 = now_s();
    aep_edge_client *reader = open_client(argv[1], file, batch);
    char *report = NULL;
    aep_edge_status s = aep_edge_flush(reader, 600000, &report);
    double seconds = now_s() - t0;
    if (s != AEP_EDGE_OK || strstr(report, "\"queued\":0") == NULL) {
        fprintf(stderr, "flush: %s\n", report);
        return 1;
    }
    printf("delivery  events=%ld  batch=%ld  seconds=%.2f  events/s=%.0f\n", n, batch, seconds, n / seconds);
    aep_edge_string_free(report);
    aep_edge_client_close(reader, 5000, NULL);
    aep_edge_client_free(reader);
    char path[160];
    unlink(file);
    snprintf(path, sizeof path, "%s-wal", file);
    unlink(path);
    rmdir(dir);
    return 0;
}
