/*
 * The main job: send the event of Adobe's /ee/v2/interact page through the
 * aep-edge C ABI and print the response.
 *
 *   interact BASE_URL          against an emulator or any Edge-compatible origin
 *   interact                   against the real Edge Network, configured from
 *                              AEP_EDGE_DATASTREAM_ID and, for the authenticated
 *                              host, AEP_EDGE_ORG_ID, AEP_EDGE_ACCESS_TOKEN and
 *                              AEP_EDGE_API_KEY
 *
 * Exit status: 0 on success, otherwise the aep_edge_status number; 64 (EX_USAGE,
 * which is no status number) for a usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aep_edge.h"

static const char *EVENT =
    "{\"event\":{\"xdm\":{\"identityMap\":{\"Email_LC_SHA256\":[{\"id\":"
    "\"0c7e6a405862e402eb76a70f8a26fc732d07c32931e9fae9ab1582911d2e8a3b\","
    "\"primary\":true}]},\"eventType\":\"web.webpagedetails.pageViews\","
    "\"web\":{\"webPageDetails\":{\"URL\":\"https://alloystore.dev/\","
    "\"name\":\"home-demo-Home Page\"}},\"timestamp\":\"2021-08-09T14:09:20.859Z\"},"
    "\"data\":{\"prop1\":\"custom value\"}}}";

/* Builds the config JSON; returns 0 when the environment does not say enough. */
static int build_config(char *buf, size_t size, const char *base_url) {
    if (base_url != NULL) {
        return snprintf(buf, size, "{\"datastreamId\":\"demo-datastream\",\"baseUrl\":\"%s\"}",
                        base_url) < (int)size;
    }
    const char *datastream = getenv("AEP_EDGE_DATASTREAM_ID");
    const char *org = getenv("AEP_EDGE_ORG_ID");
    const char *token = getenv("AEP_EDGE_ACCESS_TOKEN");
    const char *api_key = getenv("AEP_EDGE_API_KEY");
    if (datastream == NULL || datastream[0] == '\0') {
        return 0;
    }
    if (token != NULL && token[0] != '\0') {
        if (org == NULL || api_key == NULL) {
            fprintf(stderr, "AEP_EDGE_ACCESS_TOKEN needs AEP_EDGE_ORG_ID and AEP_EDGE_API_KEY\n");
            return 0;
        }
        /* The values go into JSON unescaped: Adobe ids and tokens hold no quotes. */
        return snprintf(buf, size,
                        "{\"datastreamId\":\"%s\",\"orgId\":\"%s\",\"auth\":{\"type\":\"token\","
                        "\"accessToken\":\"%s\",\"apiKey\":\"%s\"}}",
                        datastream, org, token, api_key) < (int)size;
    }
    return snprintf(buf, size, "{\"datastreamId\":\"%s\"}", datastream) < (int)size;
}

int main(int argc, char **argv) {
    static char config[16384];
    if (!build_config(config, sizeof config, argc > 1 ? argv[1] : NULL)) {
        fprintf(stderr,
                "usage: %s BASE_URL\n"
                "   or: AEP_EDGE_DATASTREAM_ID=... [AEP_EDGE_ORG_ID=... AEP_EDGE_ACCESS_TOKEN=... "
                "AEP_EDGE_API_KEY=...] %s\n",
                argv[0], argv[0]);
        return 64; /* EX_USAGE: not an aep_edge_status */
    }

    aep_edge_client *client = NULL;
    char *error = NULL;
    aep_edge_status status = aep_edge_client_new(config, &client, &error);
    if (status != AEP_EDGE_OK) {
        fprintf(stderr, "aep_edge_client_new failed (%u): %s\n", (unsigned)status, error);
        aep_edge_string_free(error);
        return (int)status;
    }

    char *result = NULL;
    status = aep_edge_interact(client, EVENT, &result);
    printf("%s\n", result); /* the response, or the error object */
    aep_edge_string_free(result);

    aep_edge_client_close(client, 5000, NULL);
    aep_edge_client_free(client);
    return status == AEP_EDGE_OK ? 0 : (int)status;
}
