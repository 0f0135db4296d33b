/*
 * Server-side use of the C ABI (design.md §3.8, §3.9), C11: one client with
 * session "none" serving a visitor with its own context headers, hint and
 * state, and the proposition event helper.
 *
 * Talks to the emulator started by tests/c/run.sh: AEP_EDGE_BASE_URL (argv[1]),
 * started with --datastream known-ds. The last line is "N passed, M failed";
 * the exit status is non-zero when anything failed.
 */
#define _POSIX_C_SOURCE 200809L

#include "test_util.h"

#define IDENTITY_KEY "kndctr_53A16ACB5CC1D3760A495C99_AdobeOrg_identity"

static const char *BASE_URL;

/* The JSON array after `"state":` in a result (malloc'd), or NULL. Entries are
 * flat objects of strings and numbers, so the first ']' closes the array. */
static char *next_state_of(const char *result) {
    const char *start = strstr(result, "\"state\":[");
    const char *end;
    char *out;
    if (start == NULL) {
        return NULL;
    }
    start += strlen("\"state\":");
    end = strchr(start, ']');
    if (end == NULL) {
        return NULL;
    }
    out = malloc((size_t)(end - start) + 2);
    if (out == NULL) {
        return NULL;
    }
    memcpy(out, start, (size_t)(end - start) + 1);
    out[end - start + 1] = '\0';
    return out;
}

/* The first ECID in a result: an "id" of 38 digits (identity:result). */
static int ecid_of(const char *result, char out[39]) {
    const char *p = result;
    while (p != NULL && (p = strstr(p, "\"id\":\"")) != NULL) {
        size_t digits;
        p += strlen("\"id\":\"");
        digits = strspn(p, "0123456789");
        if (digits == 38 && p[38] == '"') {
            memcpy(out, p, 38);
            out[38] = '\0';
            return 1;
        }
    }
    return 0;
}

static void test_config_headers_are_checked(void) {
    char config[512];
    aep_edge_client *client = NULL;
    char *error = NULL;
    current_test = "config headers are checked";
    snprintf(config, sizeof config,
             "{\"datastreamId\":\"known-ds\",\"baseUrl\":\"%s\","
             "\"headers\":{\"Authorization\":\"Bearer x\"}}",
             BASE_URL);
    CHECK(aep_edge_client_new(config, &client, &error) == AEP_EDGE_INVALID_CONFIG,
          "a config header outside the allowlist is INVALID_CONFIG", error);
    CHECK(client == NULL, "no client", NULL);
    CHECK(has(error, "headers.Authorization"), "the error names the header", error);
    aep_edge_string_free(error);
}

/* Three visits of one anonymous visitor, each with its own headers, hint and
 * the state the previous visit returned. */
static void test_a_visitor_served_by_a_server(void) {
    char config[512], request[8192], *result = NULL, *state = NULL, *recorded = NULL;
    char first_ecid[39] = "", ecid[39] = "";
    aep_edge_client *client = NULL;
    char *error = NULL;
    aep_edge_status s;
    int visit;
    current_test = "a visitor served by a server";

    snprintf(config, sizeof config,
             "{\"datastreamId\":\"known-ds\",\"baseUrl\":\"%s\",\"session\":\"none\","
             "\"orgId\":\"53A16ACB5CC1D3760A495C99@AdobeOrg\","
             "\"headers\":{\"Accept-Language\":\"de-DE\"}}",
             BASE_URL);
    s = aep_edge_client_new(config, &client, &error);
    CHECK(s == AEP_EDGE_OK, "client_new", error);
    aep_edge_string_free(error);
    if (s != AEP_EDGE_OK) {
        return;
    }
    emu_reset(BASE_URL);

    s = aep_edge_interact(client,
                          "{\"event\":{\"xdm\":{}},\"options\":{\"headers\":{\"Cookie\":\"a=b\"}}}",
                          &result);
    CHECK(s == AEP_EDGE_INVALID_REQUEST, "a Cookie header is INVALID_REQUEST", result);
    CHECK(has(result, "options.headers.Cookie"), "the error names the header", result);
    aep_edge_string_free(result);

    state = strdup("[]");
    for (visit = 1; visit <= 3 && state != NULL; visit++) {
        snprintf(request, sizeof request,
                 "{\"event\":{\"xdm\":{\"eventType\":\"web.webpagedetails.pageViews\"}},"
                 "\"query\":{\"identity\":{\"fetch\":[\"ECID\"]}},"
                 "\"options\":{\"state\":%s,\"locationHint\":\"irl1\",\"headers\":{"
                 "\"User-Agent\":\"VisitorAgent/%d.0\",\"X-Forwarded-For\":\"198.51.100.4\"}}}",
                 state, visit);
        s = aep_edge_interact(client, request, &result);
        CHECK(s == AEP_EDGE_OK, "interact for the visitor", result);
        CHECK(has(result, "\"locationHint\":\"irl1\""), "client.locationHint is the hint", result);
        CHECK(has(result, "\"headers\":{") && has(result, "\"x-adobe-edge\":\"irl1;"),
              "client.headers has x-adobe-edge", result);
        free(state);
        state = next_state_of(result);
        CHECK(has(state, IDENTITY_KEY), "client.state keeps the identity entry", result);
        CHECK(has(state, "\"expiresAt\":"), "entries carry expiresAt", state);
        if (visit == 1) {
            ecid_of(result, first_ecid);
        }
        CHECK(ecid_of(result, ecid) && strcmp(ecid, first_ecid) == 0, "one ECID on every visit",
              result);
        aep_edge_string_free(result);
    }
    free(state);

    recorded = emu_requests(BASE_URL);
    CHECK(has(recorded, "\"path\":\"/ee/irl1/v2/interact\""), "routed by the hint", recorded);
    CHECK(has(recorded, "\"user-agent\":\"VisitorAgent/3.0\""), "the visitor's User-Agent",
          recorded);
    CHECK(!has(recorded, "aep-edge/"), "our own User-Agent was replaced", recorded);
    CHECK(has(recorded, "\"accept-language\":\"de-DE\""), "the config's header", recorded);
    CHECK(has(recorded, "\"x-forwarded-for\":\"198.51.100.4\""), "X-Forwarded-For", recorded);
    CHECK(!has(recorded, "\"cookie\""), "the refused call sent nothing", recorded);
    free(recorded);
    aep_edge_client_free(client);
}

/* A proposition of the Target JSON-offer fixture (response-interact-200-target-json-offer.json). */
#define FIXTURE_PROPOSITION                                                                  \
    "{\"id\":\"AT:eyJhY3Rpdml0eUlkIjoiMTQwMjgxIiwiZXhwZXJpZW5jZUlkIjoiMCJ9\","                \
    "\"scope\":\"serverapimbox\",\"scopeDetails\":{\"decisionProvider\":\"TGT\","             \
    "\"activity\":{\"id\":\"140281\"}},\"items\":[{\"id\":\"282484\",\"data\":{\"x\":1}}]}"

static void test_proposition_events(void) {
    char *event = NULL;
    aep_edge_status s;
    current_test = "proposition events";

    CHECK(aep_edge_proposition_event(NULL, &event) == AEP_EDGE_NULL_ARGUMENT,
          "NULL request is NULL_ARGUMENT", event);
    CHECK(has(event, "\"kind\":\"null_argument\""), "with an error object", event);
    aep_edge_string_free(event);
    CHECK(aep_edge_proposition_event("{}", NULL) == AEP_EDGE_NULL_ARGUMENT,
          "NULL out is NULL_ARGUMENT", NULL);
    CHECK(aep_edge_proposition_event("{", &event) == AEP_EDGE_INVALID_JSON, "bad JSON", event);
    aep_edge_string_free(event);
    s = aep_edge_proposition_event("{\"kind\":\"display\",\"propositions\":[{\"scope\":\"s\"}]}",
                                   &event);
    CHECK(s == AEP_EDGE_INVALID_REQUEST, "a proposition without id", event);
    CHECK(has(event, "propositions[0].id"), "the error names the field", event);
    aep_edge_string_free(event);

    s = aep_edge_proposition_event(
        "{\"kind\":\"display\",\"propositions\":[" FIXTURE_PROPOSITION "]}", &event);
    CHECK(s == AEP_EDGE_OK, "display event", event);
    CHECK(has(event, "{\"event\":{\"xdm\":{"), "an interact request", event);
    CHECK(has(event, "\"eventType\":\"decisioning.propositionDisplay\""), "eventType", event);
    CHECK(has(event, "\"propositionEventType\":{\"display\":1}"), "propositionEventType", event);
    CHECK(has(event, "\"id\":\"AT:eyJhY3Rpdml0eUlkIjoiMTQwMjgxIiwiZXhwZXJpZW5jZUlkIjoiMCJ9\""),
          "the proposition id", event);
    CHECK(has(event, "\"scope\":\"serverapimbox\""), "the scope", event);
    CHECK(has(event, "\"scopeDetails\":{\"decisionProvider\":\"TGT\","
                     "\"activity\":{\"id\":\"140281\"}}"),
          "the scopeDetails", event);
    CHECK(!has(event, "282484") && !has(event, "propositionAction"), "no items, no action", event);
    aep_edge_string_free(event);

    s = aep_edge_proposition_event(
        "{\"kind\":\"interact\",\"label\":\"Buy\",\"tokens\":[\"tok\"],\"propositions\":["
        FIXTURE_PROPOSITION "]}",
        &event);
    CHECK(s == AEP_EDGE_OK, "interact event", event);
    CHECK(has(event, "\"eventType\":\"decisioning.propositionInteract\""), "eventType", event);
    CHECK(has(event, "\"propositionEventType\":{\"interact\":1}"), "propositionEventType", event);
    CHECK(has(event, "\"propositionAction\":{\"label\":\"Buy\",\"tokens\":[\"tok\"]}"),
          "propositionAction", event);
    aep_edge_string_free(event);
}

int main(int argc, char **argv) {
    BASE_URL = argc > 1 ? argv[1] : getenv("AEP_EDGE_BASE_URL");
    if (BASE_URL == NULL) {
        fprintf(stderr, "usage: server_test BASE_URL (or set AEP_EDGE_BASE_URL)\n");
        return 2;
    }
    test_config_headers_are_checked();
    test_a_visitor_served_by_a_server();
    test_proposition_events();
    return test_summary();
}
