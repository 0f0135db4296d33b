/*
 * A program outside the project, built against an installed aep-edge (by
 * tests/consumers/cmake and tests/consumers/pkgconfig): it sends the source
 * document's event to the emulator and checks the result, then checks that an
 * unknown datastream is an HTTP error with its EXEG code.
 *
 *   consumer BASE_URL      (the emulator runs with --datastream consumer-ds)
 */
#include <stdio.h>
#include <string.h>

#include <aep_edge.h>

static const char *EVENT =
    "{\"event\":{\"xdm\":{\"identityMap\":{\"Email_LC_SHA256\":[{\"id\":"
    "\"0c7e6a405862e402eb76a70f8a26fc732d07c32931e9fae9ab1582911d2e8a3b\","
    "\"primary\":true}]},\"eventType\":\"web.webpagedetails.pageViews\","
    "\"web\":{\"webPageDetails\":{\"URL\":\"https://alloystore.dev/\","
    "\"name\":\"home-demo-Home Page\"}},\"timestamp\":\"2021-08-09T14:09:20.859Z\"},"
    "\"data\":{\"prop1\":\"custom value\"}}}";

static int passed, failed;
#define CHECK(cond)                                                        \
    do {                                                                   \
        if (cond) {                                                        \
            passed++;                                                      \
        } else {                                                           \
            failed++;                                                      \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                  \
    } while (0)

/* Sends the event through a new client on `datastream`; returns the status. */
static aep_edge_status send(const char *base, const char *datastream, char **result) {
    char config[512];
    snprintf(config, sizeof config, "{\"datastreamId\":\"%s\",\"baseUrl\":\"%s\"}", datastream, base);
    aep_edge_client *client = NULL;
    char *error = NULL;
    aep_edge_status status = aep_edge_client_new(config, &client, &error);
    if (status != AEP_EDGE_OK) {
        *result = error;
        return status;
    }
    status = aep_edge_interact(client, EVENT, result);
    CHECK(aep_edge_client_close(client, 5000, NULL) == AEP_EDGE_OK);
    aep_edge_client_free(client);
    return status;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: consumer BASE_URL\n");
        return 2;
    }
    CHECK(aep_edge_abi_version() == AEP_EDGE_ABI_VERSION);
    char expected[32];
    snprintf(expected, sizeof expected, "%d.%d.%d", AEP_EDGE_VERSION_MAJOR, AEP_EDGE_VERSION_MINOR,
             AEP_EDGE_VERSION_PATCH);
    CHECK(strcmp(aep_edge_version(), expected) == 0);

    char *result = NULL;
    CHECK(send(argv[1], "consumer-ds", &result) == AEP_EDGE_OK);
    CHECK(result != NULL && strstr(result, "\"httpStatus\":200") != NULL);
    CHECK(result != NULL && strstr(result, "\"type\":\"state:store\"") != NULL);
    CHECK(result != NULL && strstr(result, "\"type\":\"identity:result\"") != NULL);
    aep_edge_string_free(result);

    result = NULL;
    CHECK(send(argv[1], "no-such-datastream", &result) == AEP_EDGE_HTTP_ERROR);
    CHECK(result != NULL && strstr(result, "\"code\":\"EXEG-0003-400\"") != NULL);
    aep_edge_string_free(result);

    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
