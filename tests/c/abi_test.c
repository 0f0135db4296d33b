/*
 * C ABI test program for aep-edge (design.md §3), C11.
 *
 * Talks to emulators started by tests/c/run.sh:
 *   AEP_EDGE_BASE_URL       (argv[1]) an emulator started with --datastream known-ds
 *   AEP_EDGE_AUTH_BASE_URL  (argv[2]) an emulator started with --require-auth
 * AEP_EDGE_TEST_TIME_SCALE (an integer, default 1) stretches delays and timeouts,
 * for runs under valgrind.
 *
 * Every check is counted; the last line is "N passed, M failed" and the exit
 * status is non-zero when anything failed.
 */
#define _POSIX_C_SOURCE 200809L

#include "test_util.h"

static const char *EVENT_REQUEST =
    "{\"event\":{\"xdm\":{\"identityMap\":{\"Email_LC_SHA256\":[{\"id\":"
    "\"0c7e6a405862e402eb76a70f8a26fc732d07c32931e9fae9ab1582911d2e8a3b\","
    "\"primary\":true}]},\"eventType\":\"web.webpagedetails.pageViews\","
    "\"web\":{\"webPageDetails\":{\"URL\":\"https://alloystore.dev/\","
    "\"name\":\"home-demo-Home Page\"}},\"timestamp\":\"2021-08-09T14:09:20.859Z\"},"
    "\"data\":{\"prop1\":\"custom value\"}}}";

static const char *BASE_URL;
static const char *AUTH_BASE_URL;

/* ------------------------------------------------------------------ checks */

/* The integer value of the first `"key":` in json; 0 when absent or not a number. */
static int json_int(const char *json, const char *key, long *out) {
    char pattern[128];
    const char *p;
    char *end;
    if (json == NULL) {
        return 0;
    }
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    p = strstr(json, pattern);
    if (p == NULL) {
        return 0;
    }
    p += strlen(pattern);
    errno = 0;
    *out = strtol(p, &end, 10);
    return end != p && errno == 0;
}

static long json_int_or(const char *json, const char *key, long fallback) {
    long v;
    return json_int(json, key, &v) ? v : fallback;
}

/* Checks an error object: shape, kind, status number, attempts and requestId. */
static void check_error_at(const char *json, uint32_t status, const char *kind, int line) {
    char buf[96];
    check_at(json != NULL, "an error object was written", json, line);
    if (json == NULL) {
        return;
    }
    check_at(strncmp(json, "{\"error\":{", 10) == 0, "starts with {\"error\":{", json, line);
    snprintf(buf, sizeof buf, "\"kind\":\"%s\"", kind);
    check_at(has(json, buf), buf, json, line);
    snprintf(buf, sizeof buf, "\"status\":%u,", (unsigned)status);
    check_at(has(json, buf), buf, json, line);
    check_at(has(json, "\"attempts\":"), "error has \"attempts\"", json, line);
    check_at(has(json, "\"requestId\":"), "error has \"requestId\"", json, line);
    check_at(has(json, "\"message\":\""), "error has a message", json, line);
}
#define CHECK_ERROR(json, status, kind) check_error_at((json), (status), (kind), __LINE__)

/* A call that failed with `want`: its status, then its error object as CHECK_ERROR. */
static void expect_error_at(uint32_t got, const char *json, uint32_t want, const char *kind,
                            const char *what, int line) {
    check_at(got == want, what, json, line);
    check_error_at(json, want, kind, line);
}
#define EXPECT_ERROR(got, json, want, kind) \
    expect_error_at((uint32_t)(got), (json), (uint32_t)(want), (kind), \
                    "status " #got " == " #want, __LINE__)

/* Runs interact and returns its status; *out gets the JSON (caller frees). */
static aep_edge_status interact(const aep_edge_client *c, const char *req, char **out) {
    return aep_edge_interact(c, req, out);
}

static char sentinel_byte;
#define SENTINEL_STR ((char *)&sentinel_byte)
#define SENTINEL_CLIENT ((aep_edge_client *)(void *)&sentinel_byte)

/* ------------------------------------------------------------------ tests */

static void test_versions(void) {
    char want[64];
    current_test = "versions";
    snprintf(want, sizeof want, "%d.%d.%d", AEP_EDGE_VERSION_MAJOR, AEP_EDGE_VERSION_MINOR,
             AEP_EDGE_VERSION_PATCH);
    CHECK(aep_edge_version() != NULL, "aep_edge_version() not NULL", NULL);
    CHECK(strcmp(aep_edge_version(), want) == 0, "aep_edge_version() == header macros",
          aep_edge_version());
    CHECK(aep_edge_version() == aep_edge_version(), "aep_edge_version() is static", NULL);
    CHECK(aep_edge_abi_version() == AEP_EDGE_ABI_VERSION, "abi_version == AEP_EDGE_ABI_VERSION",
          NULL);
    CHECK(AEP_EDGE_ABI_VERSION == 1, "AEP_EDGE_ABI_VERSION is 1", NULL);
    CHECK(AEP_EDGE_OK == 0 && AEP_EDGE_NULL_ARGUMENT == 1 && AEP_EDGE_INVALID_UTF8 == 2 &&
              AEP_EDGE_INVALID_JSON == 3 && AEP_EDGE_INVALID_CONFIG == 4 &&
              AEP_EDGE_INVALID_REQUEST == 5 && AEP_EDGE_TRANSPORT_ERROR == 6 &&
              AEP_EDGE_TIMEOUT == 7 && AEP_EDGE_HTTP_ERROR == 8 && AEP_EDGE_AUTH_ERROR == 9 &&
              AEP_EDGE_INVALID_RESPONSE == 10 && AEP_EDGE_QUEUE_FULL == 11 &&
              AEP_EDGE_CLOSED == 12 && AEP_EDGE_STORAGE_ERROR == 13 &&
              AEP_EDGE_CONSENT_DENIED == 14 && AEP_EDGE_PANIC == 99,
          "status numbers are the contract's", NULL);
    CHECK(sizeof(aep_edge_status) == 4, "aep_edge_status is 32 bits in C", NULL);
    CHECK(AEP_EDGE_MAX_REQUEST_JSON_BYTES == 1048576 && AEP_EDGE_MAX_CONFIG_JSON_BYTES == 65536,
          "size limit macros", NULL);
    CHECK(AEP_EDGE_LOG_ERROR == 1 && AEP_EDGE_LOG_WARN == 2 && AEP_EDGE_LOG_INFO == 3 &&
              AEP_EDGE_LOG_DEBUG == 4 && AEP_EDGE_LOG_TRACE == 5,
          "log level macros", NULL);
}

static void test_success(void) {
    aep_edge_client *c;
    char *out = SENTINEL_STR, *err = SENTINEL_STR, *cfg, *reqs;
    aep_edge_client *c2 = SENTINEL_CLIENT;
    aep_edge_status s;
    current_test = "success";
    emu_reset(BASE_URL);

    /* client_new: error_json_out is set to NULL on success. */
    cfg = config_for(BASE_URL, "");
    s = aep_edge_client_new(cfg, &c2, &err);
    CHECK_STATUS(s, AEP_EDGE_OK, err);
    CHECK(err == NULL, "error_json_out is NULL on success", NULL);
    CHECK(c2 != NULL && c2 != SENTINEL_CLIENT, "client_out set on success", NULL);
    aep_edge_client_free(c2);
    /* error_json_out may be NULL. */
    c2 = NULL;
    s = aep_edge_client_new(cfg, &c2, NULL);
    CHECK_STATUS(s, AEP_EDGE_OK, NULL);
    aep_edge_client_free(c2);
    free(cfg);
    CHECK(emu_request_count(BASE_URL) == 0, "client_new does no network I/O", NULL);

    c = client_with(BASE_URL, "");
    s = interact(c, EVENT_REQUEST, &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    CHECK(out != NULL && out[0] == '{', "interact result is a JSON object", out);
    CHECK(!has(out, "\"error\":{"), "no error object on success", out);
    CHECK(has(out, "\"handle\":["), "result has \"handle\"", out);
    CHECK(has(out, "\"errors\":["), "result has \"errors\"", out);
    CHECK(has(out, "\"warnings\":["), "result has \"warnings\"", out);
    CHECK(has(out, "\"type\":\"state:store\""), "result has a state:store handle", out);
    CHECK(has(out, "\"type\":\"locationHint:result\""), "result has a locationHint:result", out);
    CHECK(has(out, "\"client\":{"), "result has \"client\":{", out);
    CHECK(json_int_or(strstr(out ? out : "", "\"client\":{"), "httpStatus", -1) == 200,
          "client.httpStatus 200", out);
    CHECK(json_int_or(strstr(out ? out : "", "\"client\":{"), "attempts", -1) == 1,
          "client.attempts 1", out);
    CHECK(has(out, "\"elapsedMs\":"), "client.elapsedMs present", out);
    CHECK(has(out, "\"region\":"), "client.region present", out);
    aep_edge_string_free(out);

    /* The event reached the emulator as sent, with _id filled in and timestamp kept. */
    reqs = emu_requests(BASE_URL);
    CHECK(count_of(reqs, "\"method\":") == 1, "exactly one request sent", reqs);
    CHECK(has(reqs, "/v2/interact"), "sent to /v2/interact", reqs);
    CHECK(has(reqs, "\"" DATASTREAM "\""), "datastream in the query", reqs);
    CHECK(has(reqs, "\"prop1\":\"custom value\""), "data.prop1 sent", reqs);
    CHECK(has(reqs, "\"timestamp\":\"2021-08-09T14:09:20.859Z\""), "caller timestamp kept",
          reqs);
    CHECK(has(reqs, "\"_id\":\""), "xdm._id filled in", reqs);
    CHECK(has(reqs, "\"requestId\":\""), "requestId query parameter sent", reqs);
    CHECK(has(reqs, "\"fetch\":[\"ECID\"]"), "first interact asks for query.identity.fetch ECID",
          reqs);
    free(reqs);

    /* A second call carries the stored state and routes by the location hint. */
    out = NULL;
    s = interact(c, EVENT_REQUEST, &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    aep_edge_string_free(out);
    reqs = emu_requests(BASE_URL);
    CHECK(has(reqs, "\"path\":\"/ee/or2/v2/interact\""), "second call routed by hint /ee/or2/",
          reqs);
    CHECK(has(reqs, "\"entries\":[") && has(reqs, "_identity\""),
          "second call sends the stored state in meta.state.entries", reqs);
    free(reqs);

    /* decisionScopes give personalization:decisions. */
    out = NULL;
    s = interact(c,
                 "{\"event\":{\"xdm\":{\"eventType\":\"decisioning.propositionFetch\"}},"
                 "\"query\":{\"personalization\":{\"decisionScopes\":[\"c-scope-1\"]}}}",
                 &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    CHECK(has(out, "\"type\":\"personalization:decisions\""), "personalization:decisions",
          out);
    CHECK(has(out, "\"scope\":\"c-scope-1\""), "decision for the requested scope", out);
    aep_edge_string_free(out);

    /* collect with two events -> 202. */
    emu_reset(BASE_URL);
    out = NULL;
    s = aep_edge_collect(c,
                         "{\"events\":[{\"xdm\":{\"eventType\":\"web.webpagedetails.pageViews\"},"
                         "\"data\":{\"n\":1}},{\"xdm\":{\"eventType\":\"commerce.productViews\"},"
                         "\"data\":{\"n\":2}}]}",
                         &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    CHECK(has(out, "\"client\":{"), "collect result has client", out);
    CHECK(json_int_or(strstr(out ? out : "", "\"client\":{"), "httpStatus", -1) == 202,
          "collect client.httpStatus 202", out);
    CHECK(has(out, "\"handle\":[") && has(out, "\"errors\":[") && has(out, "\"warnings\":["),
          "collect result has handle/errors/warnings", out);
    aep_edge_string_free(out);
    reqs = emu_requests(BASE_URL);
    CHECK(count_of(reqs, "\"method\":") == 1 && has(reqs, "/v2/collect"),
          "one POST to /v2/collect", reqs);
    CHECK(count_of(reqs, "\"eventType\":") == 2, "both events in the collect body", reqs);
    free(reqs);

    /* Per-call options: requestId is sent as the query parameter; options never sent. */
    emu_reset(BASE_URL);
    out = NULL;
    s = interact(c, "{\"event\":{\"xdm\":{}},\"options\":{\"requestId\":\"c-abi-req-42\"}}",
                 &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    CHECK(has(out, "\"requestId\":\"c-abi-req-42\""), "client.requestId is the given one", out);
    aep_edge_string_free(out);
    reqs = emu_requests(BASE_URL);
    CHECK(has(reqs, "\"requestId\":\"c-abi-req-42\""), "requestId query parameter", reqs);
    CHECK(!has(reqs, "\"options\""), "options never sent", reqs);
    free(reqs);

    aep_edge_client_free(c);
}

static void noop_log(void *user_data, uint32_t level, const char *message) {
    (void)user_data;
    (void)level;
    (void)message;
}

static void test_null_arguments(void) {
    aep_edge_client *c, *out_client;
    char *out, *cfg;
    aep_edge_status s;
    current_test = "null_argument";
    emu_reset(BASE_URL);
    c = client_with(BASE_URL, "");
    cfg = config_for(BASE_URL, "");

    out_client = SENTINEL_CLIENT;
    out = SENTINEL_STR;
    s = aep_edge_client_new(NULL, &out_client, &out);
    EXPECT_ERROR(s, out, AEP_EDGE_NULL_ARGUMENT, "null_argument");
    CHECK(out_client == NULL, "client_out NULL on failure (NULL config)", NULL);
    aep_edge_string_free(out);

    out_client = SENTINEL_CLIENT;
    s = aep_edge_client_new(NULL, &out_client, NULL);
    CHECK_STATUS(s, AEP_EDGE_NULL_ARGUMENT, NULL);
    CHECK(out_client == NULL, "client_out NULL on failure (no error out)", NULL);

    out = SENTINEL_STR;
    s = aep_edge_client_new(cfg, NULL, &out);
    EXPECT_ERROR(s, out, AEP_EDGE_NULL_ARGUMENT, "null_argument");
    CHECK(has(out, "client_out"), "message names client_out", out);
    aep_edge_string_free(out);
    s = aep_edge_client_new(cfg, NULL, NULL);
    CHECK_STATUS(s, AEP_EDGE_NULL_ARGUMENT, NULL);

    out = SENTINEL_STR;
    s = aep_edge_interact(NULL, EVENT_REQUEST, &out);
    EXPECT_ERROR(s, out, AEP_EDGE_NULL_ARGUMENT, "null_argument");
    aep_edge_string_free(out);

    out = SENTINEL_STR;
    s = aep_edge_interact(c, NULL, &out);
    EXPECT_ERROR(s, out, AEP_EDGE_NULL_ARGUMENT, "null_argument");
    CHECK(has(out, "request_json"), "message names request_json", out);
    aep_edge_string_free(out);

    s = aep_edge_interact(c, EVENT_REQUEST, NULL);
    CHECK_STATUS(s, AEP_EDGE_NULL_ARGUMENT, NULL);

    out = SENTINEL_STR;
    s = aep_edge_collect(NULL, "{\"events\":[{}]}", &out);
    EXPECT_ERROR(s, out, AEP_EDGE_NULL_ARGUMENT, "null_argument");
    aep_edge_string_free(out);

    out = SENTINEL_STR;
    s = aep_edge_collect(c, NULL, &out);
    EXPECT_ERROR(s, out, AEP_EDGE_NULL_ARGUMENT, "null_argument");
    aep_edge_string_free(out);

    s = aep_edge_collect(c, "{\"events\":[{}]}", NULL);
    CHECK_STATUS(s, AEP_EDGE_NULL_ARGUMENT, NULL);

    out = SENTINEL_STR;
    s = aep_edge_client_close(NULL, 0, &out);
    EXPECT_ERROR(s, out, AEP_EDGE_NULL_ARGUMENT, "null_argument");
    aep_edge_string_free(out);
    s = aep_edge_client_close(NULL, 0, NULL);
    CHECK_STATUS(s, AEP_EDGE_NULL_ARGUMENT, NULL);

    s = aep_edge_set_log_callback(NULL, 5, noop_log, NULL);
    CHECK_STATUS(s, AEP_EDGE_NULL_ARGUMENT, NULL);

    /* NULL-safe frees. */
    aep_edge_string_free(NULL);
    aep_edge_client_free(NULL);
    CHECK(1, "string_free(NULL) and client_free(NULL) are no-ops", NULL);

    CHECK(emu_request_count(BASE_URL) == 0, "nothing was sent", NULL);
    /* The client still works after all that. */
    out = NULL;
    s = aep_edge_interact(c, EVENT_REQUEST, &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    aep_edge_string_free(out);

    free(cfg);
    aep_edge_client_free(c);
}

static void test_invalid_utf8_and_json(void) {
    aep_edge_client *c, *out_client;
    char *out;
    aep_edge_status s;
    char cfg[512];
    current_test = "invalid_utf8/invalid_json";
    emu_reset(BASE_URL);
    c = client_with(BASE_URL, "");

    snprintf(cfg, sizeof cfg, "{\"datastreamId\":\"ds\xff\xfe\",\"baseUrl\":\"%s\"}", BASE_URL);
    out_client = SENTINEL_CLIENT;
    out = NULL;
    s = aep_edge_client_new(cfg, &out_client, &out);
    EXPECT_ERROR(s, out, AEP_EDGE_INVALID_UTF8, "invalid_utf8");
    CHECK(out_client == NULL, "client_out NULL on failure (utf8)", NULL);
    aep_edge_string_free(out);

    out = NULL;
    s = aep_edge_interact(c, "{\"event\":{\"data\":{\"v\":\"\xc3\x28\"}}}", &out);
    EXPECT_ERROR(s, out, AEP_EDGE_INVALID_UTF8, "invalid_utf8");
    CHECK(has(out, "\"attempts\":0"), "attempts 0 when nothing sent", out);
    CHECK(has(out, "\"requestId\":null"), "requestId null when nothing sent", out);
    aep_edge_string_free(out);

    out = NULL;
    s = aep_edge_collect(c, "{\"events\":[{\"data\":{\"v\":\"\xff\"}}]}", &out);
    EXPECT_ERROR(s, out, AEP_EDGE_INVALID_UTF8, "invalid_utf8");
    aep_edge_string_free(out);

    /* invalid JSON */
    out_client = SENTINEL_CLIENT;
    out = NULL;
    s = aep_edge_client_new("{\"datastreamId\":", &out_client, &out);
    EXPECT_ERROR(s, out, AEP_EDGE_INVALID_JSON, "invalid_json");
    CHECK(out_client == NULL, "client_out NULL on failure (json)", NULL);
    aep_edge_string_free(out);

    out = NULL;
    s = aep_edge_client_new("", &out_client, &out);
    EXPECT_ERROR(s, out, AEP_EDGE_INVALID_JSON, "invalid_json");
    aep_edge_string_free(out);

    out = NULL;
    s = aep_edge_interact(c, "{\"event\":{\"xdm\":", &out);
    EXPECT_ERROR(s, out, AEP_EDGE_INVALID_JSON, "invalid_json");
    aep_edge_string_free(out);

    out = NULL;
    s = aep_edge_interact(c, "not json at all", &out);
    EXPECT_ERROR(s, out, AEP_EDGE_INVALID_JSON, "invalid_json");
    aep_edge_string_free(out);

    out = NULL;
    s = aep_edge_collect(c, "[1,2", &out);
    EXPECT_ERROR(s, out, AEP_EDGE_INVALID_JSON, "invalid_json");
    aep_edge_string_free(out);

    CHECK(emu_request_count(BASE_URL) == 0, "nothing was sent", NULL);
    out = NULL;
    s = aep_edge_interact(c, EVENT_REQUEST, &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    aep_edge_string_free(out);
    aep_edge_client_free(c);
}

/* A config of exactly `size` bytes: a valid one padded with spaces. */
static char *padded_json(const char *json, size_t size) {
    char *buf = malloc(size + 1);
    size_t n = strlen(json);
    if (buf == NULL || n + 1 > size) {
        abort();
    }
    memcpy(buf, json, n - 1);             /* all but the closing brace */
    memset(buf + n - 1, ' ', size - n);   /* padding */
    buf[size - 1] = json[n - 1];          /* closing brace */
    buf[size] = '\0';
    return buf;
}

/* client_new refuses `cfg` with INVALID_CONFIG: the error object, no client, and (unless
 * needle is NULL) a message that contains `needle`. */
static void config_refused_at(const char *cfg, const char *needle, const char *what, int line) {
    aep_edge_client *c = SENTINEL_CLIENT;
    char *out = NULL;
    aep_edge_status s = aep_edge_client_new(cfg, &c, &out);
    expect_error_at(s, out, AEP_EDGE_INVALID_CONFIG, "invalid_config",
                    "status s == AEP_EDGE_INVALID_CONFIG", line);
    check_at(c == NULL, "client_out NULL on failure (config)", NULL, line);
    if (needle != NULL) {
        check_at(has(out, needle), what, out, line);
    }
    aep_edge_string_free(out);
    if (c != NULL && c != SENTINEL_CLIENT) {
        aep_edge_client_free(c);
    }
}
#define CONFIG_REFUSED(cfg, needle, what) config_refused_at((cfg), (needle), (what), __LINE__)

static void test_invalid_config(void) {
    aep_edge_client *c;
    char *out, *cfg, *big;
    aep_edge_status s;
    current_test = "invalid_config";

    cfg = config_for(BASE_URL, ",\"bogusTopKey\":1");
    CONFIG_REFUSED(cfg, "bogusTopKey", "message names the unknown key");
    free(cfg);
    cfg = config_for(BASE_URL, ",\"retry\":{\"maxAttempts\":2,\"bogusNestedKey\":true}");
    CONFIG_REFUSED(cfg, "bogusNestedKey", "message names the nested unknown key");
    free(cfg);
    cfg = config_for(BASE_URL, ",\"queue\":{\"sync\":\"sometimes\"}");
    CONFIG_REFUSED(cfg, "queue.sync", "a bad queue setting is refused by name");
    free(cfg);
    cfg = config_for(BASE_URL, ",\"session\":\"none\",\"statePath\":\"/tmp/aep-edge-c-x.json\"");
    CONFIG_REFUSED(cfg, "statePath", "statePath with session none is named");
    free(cfg);
    CONFIG_REFUSED("{\"baseUrl\":\"http://127.0.0.1:9\"}", "datastreamId",
                   "missing datastreamId is named");
    CONFIG_REFUSED("[]", NULL, NULL);
    /* Plain http only to loopback. */
    CONFIG_REFUSED("{\"datastreamId\":\"x\",\"baseUrl\":\"http://example.com\"}", NULL, NULL);

    /* Over 64 KiB: INVALID_CONFIG before parsing (the text is not even JSON). */
    big = malloc(AEP_EDGE_MAX_CONFIG_JSON_BYTES + 2);
    memset(big, '{', AEP_EDGE_MAX_CONFIG_JSON_BYTES + 1);
    big[AEP_EDGE_MAX_CONFIG_JSON_BYTES + 1] = '\0';
    CONFIG_REFUSED(big, "65536", "message states the limit");
    free(big);

    /* Exactly 64 KiB of valid JSON is accepted; one byte more is not. */
    cfg = config_for(BASE_URL, "");
    big = padded_json(cfg, AEP_EDGE_MAX_CONFIG_JSON_BYTES);
    c = NULL;
    out = NULL;
    s = aep_edge_client_new(big, &c, &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    aep_edge_string_free(out);
    aep_edge_client_free(c);
    free(big);
    big = padded_json(cfg, AEP_EDGE_MAX_CONFIG_JSON_BYTES + 1);
    out = NULL;
    s = aep_edge_client_new(big, &c, &out);
    CHECK_STATUS(s, AEP_EDGE_INVALID_CONFIG, out);
    aep_edge_string_free(out);
    free(big);
    free(cfg);
}

static void test_invalid_request(void) {
    aep_edge_client *c;
    char *out, *big, *req;
    aep_edge_status s;
    size_t n, prefix;
    current_test = "invalid_request";
    emu_reset(BASE_URL);
    c = client_with(BASE_URL, "");

    out = NULL;
    s = aep_edge_interact(c, "{}", &out);
    EXPECT_ERROR(s, out, AEP_EDGE_INVALID_REQUEST, "invalid_request");
    CHECK(has(out, "event"), "message names event", out);
    aep_edge_string_free(out);

    out = NULL;
    s = aep_edge_interact(c, "{\"event\":42}", &out);
    EXPECT_ERROR(s, out, AEP_EDGE_INVALID_REQUEST, "invalid_request");
    aep_edge_string_free(out);

    out = NULL;
    s = aep_edge_collect(c, "{\"events\":[]}", &out);
    EXPECT_ERROR(s, out, AEP_EDGE_INVALID_REQUEST, "invalid_request");
    aep_edge_string_free(out);

    out = NULL;
    s = aep_edge_collect(c, "{\"event\":{}}", &out);
    EXPECT_ERROR(s, out, AEP_EDGE_INVALID_REQUEST, "invalid_request");
    aep_edge_string_free(out);

    out = NULL;
    s = aep_edge_interact(c, "{\"event\":{},\"options\":{\"bogusOption\":1}}", &out);
    EXPECT_ERROR(s, out, AEP_EDGE_INVALID_REQUEST, "invalid_request");
    CHECK(has(out, "bogusOption"), "message names the unknown option", out);
    aep_edge_string_free(out);

    /* Over 1 MiB: INVALID_REQUEST before parsing (the text is not JSON). */
    n = AEP_EDGE_MAX_REQUEST_JSON_BYTES + 1;
    big = malloc(n + 1);
    memset(big, '[', n);
    big[n] = '\0';
    out = NULL;
    s = aep_edge_interact(c, big, &out);
    EXPECT_ERROR(s, out, AEP_EDGE_INVALID_REQUEST, "invalid_request");
    aep_edge_string_free(out);
    out = NULL;
    s = aep_edge_collect(c, big, &out);
    CHECK_STATUS(s, AEP_EDGE_INVALID_REQUEST, out);
    aep_edge_string_free(out);
    free(big);

    /* Exactly 1 MiB (mostly whitespace) passes the size check and is sent. */
    big = padded_json("{\"event\":{\"xdm\":{}}}", AEP_EDGE_MAX_REQUEST_JSON_BYTES);
    out = NULL;
    s = aep_edge_interact(c, big, &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    aep_edge_string_free(out);
    free(big);

    /* An encoded body over 64 KB: INVALID_REQUEST, nothing sent. */
    emu_reset(BASE_URL);
    n = 70000;
    req = malloc(n + 64);
    strcpy(req, "{\"event\":{\"data\":{\"big\":\"");
    prefix = strlen(req);
    memset(req + prefix, 'x', n);
    strcpy(req + prefix + n, "\"}}}");
    out = NULL;
    s = aep_edge_interact(c, req, &out);
    EXPECT_ERROR(s, out, AEP_EDGE_INVALID_REQUEST, "invalid_request");
    CHECK(has(out, "65536"), "message states the 64 KB body limit", out);
    CHECK(has(out, "\"attempts\":0"), "attempts 0", out);
    aep_edge_string_free(out);
    free(req);
    CHECK(emu_request_count(BASE_URL) == 0, "nothing was sent for an oversized body", NULL);

    aep_edge_client_free(c);
}

static void test_transport(void) {
    aep_edge_client *c;
    char *out, base[64];
    aep_edge_status s;
    current_test = "transport";

    snprintf(base, sizeof base, "http://127.0.0.1:%d", closed_loopback_port());
    c = client_with(base, ",\"retry\":{\"maxAttempts\":2,\"baseDelayMs\":10,\"maxDelayMs\":20}");
    out = NULL;
    s = interact(c, EVENT_REQUEST, &out);
    EXPECT_ERROR(s, out, AEP_EDGE_TRANSPORT_ERROR, "transport");
    CHECK(json_int_or(out, "attempts", -1) == 2, "connect refused is retried: attempts 2", out);
    CHECK(has(out, "\"httpStatus\":null"), "httpStatus null", out);
    aep_edge_string_free(out);
    aep_edge_client_free(c);

    emu_reset(BASE_URL);
    emu_fault(BASE_URL, "{\"reset\":true,\"pathContains\":\"/interact\"}");
    c = client_with(BASE_URL, ",\"retry\":{\"maxAttempts\":1}");
    out = NULL;
    s = interact(c, EVENT_REQUEST, &out);
    EXPECT_ERROR(s, out, AEP_EDGE_TRANSPORT_ERROR, "transport");
    CHECK(json_int_or(out, "attempts", -1) == 1, "attempts 1", out);
    CHECK(has(out, "\"requestId\":\""), "requestId is the id sent", out);
    aep_edge_string_free(out);
    aep_edge_client_free(c);

    /* A reset is retried: the second attempt succeeds with the same requestId. */
    emu_reset(BASE_URL);
    emu_fault(BASE_URL, "{\"reset\":true,\"pathContains\":\"/interact\"}");
    c = client_with(BASE_URL, ",\"retry\":{\"maxAttempts\":3,\"baseDelayMs\":10,\"maxDelayMs\":50}");
    out = NULL;
    s = interact(c, EVENT_REQUEST, &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    CHECK(json_int_or(strstr(out ? out : "", "\"client\":{"), "attempts", -1) == 2,
          "reset then success: client.attempts 2", out);
    aep_edge_string_free(out);
    CHECK(emu_request_count(BASE_URL) == 2, "two requests reached the emulator", NULL);
    aep_edge_client_free(c);
}

static void test_timeout(void) {
    aep_edge_client *c;
    char *out, extra[256];
    aep_edge_status s;
    double t0, took;
    current_test = "timeout";
    emu_reset(BASE_URL);
    emu_delay(BASE_URL, "/interact", 1, ms(1500));
    snprintf(extra, sizeof extra,
             ",\"timeouts\":{\"connectMs\":%ld,\"requestMs\":%ld,\"totalMs\":%ld},"
             "\"retry\":{\"maxAttempts\":1}",
             ms(1000), ms(300), ms(10000));
    {
        /* config_for already has timeouts; build this one by hand. */
        char cfg[512];
        char *err = NULL;
        snprintf(cfg, sizeof cfg,
                 "{\"datastreamId\":\"" DATASTREAM "\",\"baseUrl\":\"%s\"%s}", BASE_URL, extra);
        c = NULL;
        s = aep_edge_client_new(cfg, &c, &err);
        CHECK_STATUS(s, AEP_EDGE_OK, err);
        aep_edge_string_free(err);
    }
    out = NULL;
    t0 = now_ms();
    s = interact(c, EVENT_REQUEST, &out);
    took = now_ms() - t0;
    EXPECT_ERROR(s, out, AEP_EDGE_TIMEOUT, "timeout");
    CHECK(json_int_or(out, "attempts", -1) == 1, "attempts 1", out);
    CHECK(took < (double)ms(1400), "returned before the delayed answer", NULL);
    aep_edge_string_free(out);
    aep_edge_client_free(c);
    sleep_ms(ms(1500)); /* let the emulator's delayed answer drain */

    /* totalMs bounds the whole call across retries. */
    emu_reset(BASE_URL);
    emu_fault(BASE_URL, "{\"count\":5,\"status\":503,\"pathContains\":\"/interact\"}");
    {
        char cfg[512];
        char *err = NULL;
        snprintf(cfg, sizeof cfg,
                 "{\"datastreamId\":\"" DATASTREAM "\",\"baseUrl\":\"%s\","
                 "\"timeouts\":{\"totalMs\":%ld},"
                 "\"retry\":{\"maxAttempts\":5,\"baseDelayMs\":%ld,\"maxDelayMs\":%ld}}",
                 BASE_URL, ms(400), ms(300), ms(300));
        c = NULL;
        s = aep_edge_client_new(cfg, &c, &err);
        CHECK_STATUS(s, AEP_EDGE_OK, err);
        aep_edge_string_free(err);
    }
    out = NULL;
    t0 = now_ms();
    s = interact(c, EVENT_REQUEST, &out);
    took = now_ms() - t0;
    CHECK(s == AEP_EDGE_TIMEOUT || s == AEP_EDGE_HTTP_ERROR,
          "totalMs exhausted by 503 retries: TIMEOUT or HTTP_ERROR", out);
    CHECK(has(out, "\"attempts\":"), "error has attempts", out);
    CHECK(took < (double)ms(1500), "call bounded by totalMs", NULL);
    aep_edge_string_free(out);
    aep_edge_client_free(c);
}

static void test_http_error(void) {
    aep_edge_client *c;
    char *out, cfg[512], *err, *reqs;
    aep_edge_status s;
    current_test = "http_error";
    emu_reset(BASE_URL);

    snprintf(cfg, sizeof cfg, "{\"datastreamId\":\"unknown-ds\",\"baseUrl\":\"%s\"}", BASE_URL);
    c = NULL;
    err = NULL;
    s = aep_edge_client_new(cfg, &c, &err);
    CHECK_STATUS(s, AEP_EDGE_OK, err);
    aep_edge_string_free(err);
    out = NULL;
    s = interact(c, EVENT_REQUEST, &out);
    EXPECT_ERROR(s, out, AEP_EDGE_HTTP_ERROR, "http");
    CHECK(has(out, "\"httpStatus\":400"), "httpStatus 400", out);
    CHECK(has(out, "\"code\":\"EXEG-0003-400\""), "code EXEG-0003-400", out);
    CHECK(has(out, "\"problem\":{"), "problem object", out);
    CHECK(has(out, "\"retryable\":false"), "not retryable", out);
    CHECK(json_int_or(out, "attempts", -1) == 1, "attempts 1", out);
    CHECK(has(out, "\"requestId\":\""), "requestId present", out);
    aep_edge_string_free(out);
    aep_edge_client_free(c);

    /* A 500 is never retried. */
    emu_reset(BASE_URL);
    emu_fault(BASE_URL, "{\"count\":3,\"status\":500,\"pathContains\":\"/interact\"}");
    c = client_with(BASE_URL, ",\"retry\":{\"maxAttempts\":3,\"baseDelayMs\":10}");
    out = NULL;
    s = interact(c, EVENT_REQUEST, &out);
    EXPECT_ERROR(s, out, AEP_EDGE_HTTP_ERROR, "http");
    CHECK(has(out, "\"httpStatus\":500"), "httpStatus 500", out);
    CHECK(json_int_or(out, "attempts", -1) == 1, "500 not retried: attempts 1", out);
    aep_edge_string_free(out);
    CHECK(emu_request_count(BASE_URL) == 1, "one request for a 500", NULL);
    aep_edge_client_free(c);

    /* A 503 is retried with the same requestId; after maxAttempts it is HTTP_ERROR. */
    emu_reset(BASE_URL);
    emu_fault(BASE_URL, "{\"count\":3,\"status\":503,\"pathContains\":\"/interact\"}");
    c = client_with(BASE_URL, ",\"retry\":{\"maxAttempts\":3,\"baseDelayMs\":10,\"maxDelayMs\":50}");
    out = NULL;
    s = interact(c, EVENT_REQUEST, &out);
    EXPECT_ERROR(s, out, AEP_EDGE_HTTP_ERROR, "http");
    CHECK(has(out, "\"httpStatus\":503"), "httpStatus 503", out);
    CHECK(json_int_or(out, "attempts", -1) == 3, "503 retried: attempts 3", out);
    CHECK(has(out, "\"retryable\":true"), "503 is retryable", out);
    aep_edge_string_free(out);
    reqs = emu_requests(BASE_URL);
    CHECK(count_of(reqs, "\"method\":") == 3, "three requests sent", reqs);
    free(reqs);
    aep_edge_client_free(c);
}

/* Result shapes of design.md 3.3 and the Retry-After rule of 3.4. */
static void test_result_shapes(void) {
    aep_edge_client *c;
    char *out;
    aep_edge_status s;
    current_test = "result_shapes";
    emu_reset(BASE_URL);
    c = client_with(BASE_URL, ",\"retry\":{\"maxAttempts\":3,\"baseDelayMs\":10,"
                              "\"maxDelayMs\":1000}");

    /* A 207 is a success whose errors are not empty; unknown keys are kept. */
    emu_fault(BASE_URL,
              "{\"status\":207,\"contentType\":\"application/json\",\"pathContains\":\"/interact\","
              "\"body\":{\"requestId\":\"r207\",\"handle\":[],\"c207Extra\":1,\"errors\":"
              "[{\"type\":\"https://ns.adobe.com/aep/errors/EXEG-0201-503\",\"status\":503,"
              "\"title\":\"partial\"}]}}");
    out = NULL;
    s = interact(c, EVENT_REQUEST, &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    CHECK(has(out, "errors/EXEG-0201-503\""), "207: errors kept", out);
    CHECK(has(out, "\"c207Extra\":1"), "207: unknown keys kept", out);
    CHECK(has(out, "\"warnings\":[]"), "207: warnings [] when absent", out);
    CHECK(json_int_or(strstr(out ? out : "", "\"client\":{"), "httpStatus", -1) == 207,
          "client.httpStatus 207", out);
    aep_edge_string_free(out);

    /* collect accepts an empty 204 body as {}. */
    emu_fault(BASE_URL, "{\"status\":204,\"pathContains\":\"/collect\"}");
    out = NULL;
    s = aep_edge_collect(c, "{\"events\":[{\"xdm\":{}}]}", &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    CHECK(has(out, "\"handle\":[]") && has(out, "\"errors\":[]") && has(out, "\"warnings\":[]"),
          "204: handle/errors/warnings are []", out);
    CHECK(json_int_or(strstr(out ? out : "", "\"client\":{"), "httpStatus", -1) == 204,
          "client.httpStatus 204", out);
    aep_edge_string_free(out);

    /* Retry-After longer than maxDelayMs: stop at once, retryable with retryAfterMs. */
    emu_reset(BASE_URL);
    emu_fault(BASE_URL, "{\"status\":503,\"retryAfter\":60,\"pathContains\":\"/interact\"}");
    out = NULL;
    s = interact(c, EVENT_REQUEST, &out);
    EXPECT_ERROR(s, out, AEP_EDGE_HTTP_ERROR, "http");
    CHECK(json_int_or(out, "attempts", -1) == 1, "no retry past maxDelayMs: attempts 1", out);
    CHECK(has(out, "\"retryable\":true"), "retryable true", out);
    CHECK(json_int_or(out, "retryAfterMs", -1) == 60000, "retryAfterMs 60000", out);
    aep_edge_string_free(out);
    CHECK(emu_request_count(BASE_URL) == 1, "one request sent", NULL);
    aep_edge_client_free(c);
}

static void test_auth(void) {
    aep_edge_client *c;
    char *out, *reqs;
    aep_edge_status s;
    current_test = "auth";
    emu_reset(AUTH_BASE_URL);

    c = client_with(AUTH_BASE_URL, "");
    out = NULL;
    s = interact(c, EVENT_REQUEST, &out);
    EXPECT_ERROR(s, out, AEP_EDGE_AUTH_ERROR, "auth");
    CHECK(has(out, "\"httpStatus\":401"), "httpStatus 401", out);
    CHECK(has(out, "\"code\":\"EXEG-0500-401\""), "code EXEG-0500-401", out);
    CHECK(has(out, "\"problem\":{"), "problem object", out);
    CHECK(json_int_or(out, "attempts", -1) == 1, "attempts 1", out);
    aep_edge_string_free(out);
    aep_edge_client_free(c);

    c = client_with(AUTH_BASE_URL,
                    ",\"orgId\":\"C0FFEE@AdobeOrg\",\"auth\":{\"type\":\"token\","
                    "\"accessToken\":\"c-test-token-123\",\"apiKey\":\"c-test-api-key\"}");
    out = NULL;
    s = interact(c, EVENT_REQUEST, &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    CHECK(json_int_or(strstr(out ? out : "", "\"client\":{"), "httpStatus", -1) == 200,
          "token auth: httpStatus 200", out);
    aep_edge_string_free(out);
    reqs = emu_requests(AUTH_BASE_URL);
    CHECK(has(reqs, "\"authorization\":\"Bearer c-test-token-123\""), "Bearer token sent",
          reqs);
    CHECK(has(reqs, "\"x-api-key\":\"c-test-api-key\""), "x-api-key sent", reqs);
    CHECK(has(reqs, "\"x-gw-ims-org-id\":\"C0FFEE@AdobeOrg\""), "x-gw-ims-org-id sent", reqs);
    free(reqs);
    aep_edge_client_free(c);
}

static void test_invalid_response(void) {
    aep_edge_client *c;
    char *out;
    aep_edge_status s;
    current_test = "invalid_response";
    emu_reset(BASE_URL);
    emu_fault(BASE_URL, "{\"malformed\":true,\"pathContains\":\"/interact\"}");
    c = client_with(BASE_URL, ",\"retry\":{\"maxAttempts\":3,\"baseDelayMs\":10}");
    out = NULL;
    s = interact(c, EVENT_REQUEST, &out);
    EXPECT_ERROR(s, out, AEP_EDGE_INVALID_RESPONSE, "invalid_response");
    CHECK(json_int_or(out, "attempts", -1) == 1, "attempts 1", out);
    aep_edge_string_free(out);

    /* A 200 whose body is a JSON array is not the expected object either. */
    emu_fault(BASE_URL, "{\"status\":200,\"body\":\"[1,2,3]\",\"contentType\":"
                        "\"application/json\",\"pathContains\":\"/interact\"}");
    out = NULL;
    s = interact(c, EVENT_REQUEST, &out);
    EXPECT_ERROR(s, out, AEP_EDGE_INVALID_RESPONSE, "invalid_response");
    aep_edge_string_free(out);
    aep_edge_client_free(c);
}

static void test_closed(void) {
    aep_edge_client *c;
    char *out;
    aep_edge_status s;
    current_test = "closed";
    emu_reset(BASE_URL);
    c = client_with(BASE_URL, "");

    out = SENTINEL_STR;
    s = aep_edge_client_close(c, (uint32_t)ms(1000), &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    CHECK(out != SENTINEL_STR && has(out, "\"inFlight\":0"), "close report inFlight 0", out);
    CHECK(has(out, "\"waitedMs\":"), "close report waitedMs", out);
    aep_edge_string_free(out);

    out = NULL;
    s = interact(c, EVENT_REQUEST, &out);
    EXPECT_ERROR(s, out, AEP_EDGE_CLOSED, "closed");
    CHECK(has(out, "\"attempts\":0"), "attempts 0 after close", out);
    CHECK(has(out, "\"requestId\":null"), "requestId null after close", out);
    aep_edge_string_free(out);

    out = NULL;
    s = aep_edge_collect(c, "{\"events\":[{\"xdm\":{}}]}", &out);
    EXPECT_ERROR(s, out, AEP_EDGE_CLOSED, "closed");
    aep_edge_string_free(out);

    /* Idempotent, report may be NULL. */
    s = aep_edge_client_close(c, 0, NULL);
    CHECK_STATUS(s, AEP_EDGE_OK, NULL);
    out = NULL;
    s = aep_edge_client_close(c, 10, &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    aep_edge_string_free(out);

    CHECK(emu_request_count(BASE_URL) == 0, "nothing sent after close", NULL);
    aep_edge_client_free(c);
}

static void test_panic(void) {
    aep_edge_client *c, *other, *pc;
    char *out, *cfg;
    aep_edge_status s;
    current_test = "panic";
    emu_reset(BASE_URL);
    c = client_with(BASE_URL, "");
    other = client_with(BASE_URL, "");

    setenv("AEP_EDGE_TEST_PANIC", "aep_edge_interact", 1);
    out = NULL;
    s = interact(c, EVENT_REQUEST, &out);
    unsetenv("AEP_EDGE_TEST_PANIC");
    EXPECT_ERROR(s, out, AEP_EDGE_PANIC, "panic");
    CHECK(has(out, "aep_edge_interact"), "panic message names the function", out);
    aep_edge_string_free(out);

    /* Poisoned: later calls answer PANIC at once, nothing is sent. */
    out = NULL;
    s = interact(c, EVENT_REQUEST, &out);
    EXPECT_ERROR(s, out, AEP_EDGE_PANIC, "panic");
    aep_edge_string_free(out);
    out = NULL;
    s = aep_edge_collect(c, "{\"events\":[{}]}", &out);
    CHECK_STATUS(s, AEP_EDGE_PANIC, out);
    aep_edge_string_free(out);
    /* ... except close, which still waits for calls in flight (design.md §3.10). */
    out = NULL;
    s = aep_edge_client_close(c, 100, &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    CHECK(has(out, "\"poisoned\":true"), "the close report says the client is poisoned", out);
    aep_edge_string_free(out);
    s = aep_edge_set_log_callback(c, 5, noop_log, NULL);
    CHECK_STATUS(s, AEP_EDGE_PANIC, NULL);
    CHECK(emu_request_count(BASE_URL) == 0, "a poisoned client sends nothing", NULL);

    /* Another client is unaffected. */
    out = NULL;
    s = interact(other, EVENT_REQUEST, &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    aep_edge_string_free(out);

    aep_edge_client_free(c); /* free still works */
    aep_edge_client_free(other);
    CHECK(1, "free of a poisoned client works", NULL);

    /* A panic in client_new: PANIC, client_out NULL, error object written. */
    cfg = config_for(BASE_URL, "");
    setenv("AEP_EDGE_TEST_PANIC", "aep_edge_client_new", 1);
    pc = SENTINEL_CLIENT;
    out = NULL;
    s = aep_edge_client_new(cfg, &pc, &out);
    unsetenv("AEP_EDGE_TEST_PANIC");
    EXPECT_ERROR(s, out, AEP_EDGE_PANIC, "panic");
    CHECK(pc == NULL, "client_out NULL after a panic", NULL);
    aep_edge_string_free(out);

    /* A panic in collect poisons too. */
    c = client_with(BASE_URL, "");
    setenv("AEP_EDGE_TEST_PANIC", "aep_edge_collect", 1);
    out = NULL;
    s = aep_edge_collect(c, "{\"events\":[{}]}", &out);
    unsetenv("AEP_EDGE_TEST_PANIC");
    CHECK_STATUS(s, AEP_EDGE_PANIC, out);
    aep_edge_string_free(out);
    out = NULL;
    s = interact(c, EVENT_REQUEST, &out);
    CHECK_STATUS(s, AEP_EDGE_PANIC, out);
    aep_edge_string_free(out);
    aep_edge_client_free(c);
    free(cfg);
}

/* Session functions, the state file (statePath), consent and the access token. */
static void remove_state_dir(const char *dir) {
    static const char *const names[] = {"state.json", "state.json.lock",
                                        "state.json.identity-lock", "state.json.tmp"};
    char path[512];
    size_t i;
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    if (rmdir(dir) != 0) {
        fprintf(stderr, "note: %s left behind (unexpected files in it)\n", dir);
    }
}

static void test_session(void) {
    aep_edge_client *c, *c2;
    char *out, *reqs, extra[600], dir[] = "/tmp/aep-edge-c-test-XXXXXX";
    aep_edge_status s;
    current_test = "session";
    emu_reset(BASE_URL);

    /* NULL arguments of the session functions. */
    c = client_with(BASE_URL, "");
    out = SENTINEL_STR;
    s = aep_edge_session_get(NULL, &out);
    EXPECT_ERROR(s, out, AEP_EDGE_NULL_ARGUMENT, "null_argument");
    aep_edge_string_free(out);
    s = aep_edge_session_get(c, NULL);
    CHECK_STATUS(s, AEP_EDGE_NULL_ARGUMENT, NULL);
    out = SENTINEL_STR;
    s = aep_edge_session_reset(NULL, &out);
    EXPECT_ERROR(s, out, AEP_EDGE_NULL_ARGUMENT, "null_argument");
    aep_edge_string_free(out);
    out = SENTINEL_STR;
    s = aep_edge_set_consent(c, NULL, &out);
    EXPECT_ERROR(s, out, AEP_EDGE_NULL_ARGUMENT, "null_argument");
    aep_edge_string_free(out);
    s = aep_edge_set_consent(c, "{}", NULL);
    CHECK_STATUS(s, AEP_EDGE_NULL_ARGUMENT, NULL);
    out = SENTINEL_STR;
    s = aep_edge_client_set_access_token(c, NULL, &out);
    EXPECT_ERROR(s, out, AEP_EDGE_NULL_ARGUMENT, "null_argument");
    aep_edge_string_free(out);

    /* session_get before and after a call; session_reset clears it. */
    out = NULL;
    s = aep_edge_session_get(c, &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    CHECK(has(out, "\"session\":\"device\"") && has(out, "\"entries\":[]"),
          "fresh session: device, no entries", out);
    aep_edge_string_free(out);
    out = NULL;
    s = interact(c, EVENT_REQUEST, &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    aep_edge_string_free(out);
    out = NULL;
    s = aep_edge_session_get(c, &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    CHECK(has(out, "_identity\""), "session keeps the identity state entry", out);
    CHECK(has(out, "\"hint\":\"or2\""), "session keeps the location hint", out);
    aep_edge_string_free(out);
    out = SENTINEL_STR;
    s = aep_edge_session_reset(c, &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    CHECK(out == NULL, "session_reset: error_json_out NULL on success", out == SENTINEL_STR ? NULL : out);
    if (out != SENTINEL_STR) {
        aep_edge_string_free(out);
    }
    out = NULL;
    s = aep_edge_session_get(c, &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    CHECK(has(out, "\"entries\":[]") && has(out, "\"locationHint\":null") && has(out, "\"ecid\":null"),
          "after reset: no entries, no hint, no ECID", out);
    aep_edge_string_free(out);

    /* Consent "n": interact and collect are CONSENT_DENIED and send nothing. */
    out = NULL;
    s = aep_edge_set_consent(c,
                             "{\"consent\":[{\"standard\":\"Adobe\",\"version\":\"2.0\","
                             "\"value\":{\"collect\":{\"val\":\"n\"}}}]}",
                             &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    aep_edge_string_free(out);
    emu_reset(BASE_URL);
    out = NULL;
    s = interact(c, EVENT_REQUEST, &out);
    EXPECT_ERROR(s, out, AEP_EDGE_CONSENT_DENIED, "consent_denied");
    CHECK(has(out, "\"attempts\":0"), "consent denied: attempts 0", out);
    aep_edge_string_free(out);
    out = NULL;
    s = aep_edge_collect(c, "{\"events\":[{\"xdm\":{}}]}", &out);
    EXPECT_ERROR(s, out, AEP_EDGE_CONSENT_DENIED, "consent_denied");
    aep_edge_string_free(out);
    CHECK(emu_request_count(BASE_URL) == 0, "consent denied: nothing sent", NULL);
    out = NULL;
    s = aep_edge_set_consent(c,
                             "{\"consent\":[{\"standard\":\"Adobe\",\"version\":\"2.0\","
                             "\"value\":{\"collect\":{\"val\":\"y\"}}}]}",
                             &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    aep_edge_string_free(out);
    out = NULL;
    s = interact(c, EVENT_REQUEST, &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    aep_edge_string_free(out);

    /* set_access_token on a client without token auth is INVALID_REQUEST. */
    out = NULL;
    s = aep_edge_client_set_access_token(c, "tok", &out);
    EXPECT_ERROR(s, out, AEP_EDGE_INVALID_REQUEST, "invalid_request");
    aep_edge_string_free(out);
    out = NULL;
    s = aep_edge_client_close(c, 1000, NULL);
    CHECK_STATUS(s, AEP_EDGE_OK, NULL);
    s = aep_edge_session_reset(c, &out);
    EXPECT_ERROR(s, out, AEP_EDGE_CLOSED, "closed");
    aep_edge_string_free(out);
    aep_edge_client_free(c);

    /* set_access_token replaces the token for later calls. */
    emu_reset(AUTH_BASE_URL);
    c = client_with(AUTH_BASE_URL,
                    ",\"orgId\":\"C0FFEE@AdobeOrg\",\"auth\":{\"type\":\"token\","
                    "\"accessToken\":\"c-first-token\",\"apiKey\":\"k\"}");
    out = SENTINEL_STR;
    s = aep_edge_client_set_access_token(c, "c-second-token", &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out == SENTINEL_STR ? NULL : out);
    CHECK(out == NULL, "set_access_token: error_json_out NULL on success", NULL);
    out = NULL;
    s = aep_edge_client_set_access_token(c, "bad token with spaces", &out);
    CHECK_STATUS(s, AEP_EDGE_INVALID_REQUEST, out);
    aep_edge_string_free(out);
    out = NULL;
    s = interact(c, EVENT_REQUEST, &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    aep_edge_string_free(out);
    reqs = emu_requests(AUTH_BASE_URL);
    CHECK(has(reqs, "\"authorization\":\"Bearer c-second-token\"") &&
              !has(reqs, "c-first-token"),
          "the replaced token is sent", reqs);
    free(reqs);
    aep_edge_client_free(c);

    /* STORAGE_ERROR: a statePath whose directory does not exist. */
    c = SENTINEL_CLIENT;
    out = NULL;
    {
        char *cfg = config_for(BASE_URL, ",\"statePath\":\"/nonexistent-aep-edge-dir/x/state.json\"");
        s = aep_edge_client_new(cfg, &c, &out);
        free(cfg);
    }
    EXPECT_ERROR(s, out, AEP_EDGE_STORAGE_ERROR, "storage");
    CHECK(c == NULL, "client_out NULL on STORAGE_ERROR", NULL);
    aep_edge_string_free(out);

    /* statePath: a second client on the same file starts with the first's state. */
    if (mkdtemp(dir) == NULL) {
        CHECK(0, "mkdtemp", NULL);
        return;
    }
    snprintf(extra, sizeof extra, ",\"statePath\":\"%s/state.json\"", dir);
    emu_reset(BASE_URL);
    c = client_with(BASE_URL, extra);
    out = NULL;
    s = interact(c, EVENT_REQUEST, &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    aep_edge_string_free(out);
    CHECK_STATUS(aep_edge_client_close(c, 1000, NULL), AEP_EDGE_OK, NULL);
    aep_edge_client_free(c);
    c2 = client_with(BASE_URL, extra);
    out = NULL;
    s = aep_edge_session_get(c2, &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    CHECK(has(out, "_identity\""), "state file: identity entry reloaded", out);
    aep_edge_string_free(out);
    emu_reset(BASE_URL);
    out = NULL;
    s = interact(c2, EVENT_REQUEST, &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    aep_edge_string_free(out);
    reqs = emu_requests(BASE_URL);
    CHECK(has(reqs, "\"entries\":[") && has(reqs, "_identity\""),
          "state file: the first request of the new client sends the stored state", reqs);
    free(reqs);
    aep_edge_client_free(c2);
    remove_state_dir(dir);
}

/* ------------------------------------------------------------------ threads */

struct worker {
    pthread_t tid;
    const aep_edge_client *client;
    int calls;
    int ok;
    aep_edge_status last;
    char *last_json; /* the JSON of the last non-OK outcome */
    double ended_ms;
};

static void *worker_main(void *arg) {
    struct worker *w = arg;
    int i;
    for (i = 0; i < w->calls; i++) {
        char *out = NULL;
        aep_edge_status s = aep_edge_interact(w->client, EVENT_REQUEST, &out);
        w->last = s;
        if (s == AEP_EDGE_OK && has(out, "\"httpStatus\":200")) {
            w->ok++;
            aep_edge_string_free(out);
        } else {
            aep_edge_string_free(w->last_json);
            w->last_json = out;
        }
    }
    w->ended_ms = now_ms();
    return NULL;
}

static void test_threads(void) {
    aep_edge_client *c;
    struct worker w[8];
    int i, total = 0;
    current_test = "threads";
    emu_reset(BASE_URL);
    c = client_with(BASE_URL, "");
    memset(w, 0, sizeof w);
    for (i = 0; i < 8; i++) {
        w[i].client = c;
        w[i].calls = 25;
        CHECK(pthread_create(&w[i].tid, NULL, worker_main, &w[i]) == 0, "pthread_create", NULL);
    }
    for (i = 0; i < 8; i++) {
        pthread_join(w[i].tid, NULL);
        CHECK(w[i].ok == 25, "every interact of a thread succeeded", w[i].last_json);
        total += w[i].ok;
        aep_edge_string_free(w[i].last_json);
    }
    CHECK(total == 200, "200 interacts succeeded", NULL);
    CHECK(emu_request_count(BASE_URL) == 200, "emulator saw 200 requests", NULL);
    aep_edge_client_free(c);
}

struct closer {
    pthread_t tid;
    aep_edge_client *client;
    uint32_t timeout_ms;
    aep_edge_status status;
    char *report;
};

static void *closer_main(void *arg) {
    struct closer *k = arg;
    k->status = aep_edge_client_close(k->client, k->timeout_ms, &k->report);
    return NULL;
}

static void test_close_in_flight(void) {
    aep_edge_client *c;
    struct worker w[3];
    struct closer k;
    char *out;
    int i;
    double t0, took;
    aep_edge_status s;
    current_test = "close_in_flight";

    /* 1. Three calls blocked on a 500 ms delay; close(5000) from another thread waits. */
    emu_reset(BASE_URL);
    emu_delay(BASE_URL, "/interact", 3, ms(500));
    c = client_with(BASE_URL, "");
    memset(w, 0, sizeof w);
    for (i = 0; i < 3; i++) {
        w[i].client = c;
        w[i].calls = 1;
        pthread_create(&w[i].tid, NULL, worker_main, &w[i]);
    }
    CHECK(emu_wait_for(BASE_URL, "\"method\":", 3, ms(3000)), "3 calls reached the emulator",
          NULL);
    memset(&k, 0, sizeof k);
    k.client = c;
    k.timeout_ms = (uint32_t)ms(5000);
    pthread_create(&k.tid, NULL, closer_main, &k);
    sleep_ms(50);
    out = NULL;
    s = interact(c, EVENT_REQUEST, &out); /* a new call while close waits */
    EXPECT_ERROR(s, out, AEP_EDGE_CLOSED, "closed");
    aep_edge_string_free(out);
    pthread_join(k.tid, NULL);
    for (i = 0; i < 3; i++) {
        pthread_join(w[i].tid, NULL);
        CHECK(w[i].ok == 1 && w[i].last == AEP_EDGE_OK, "in-flight call finished with OK",
              w[i].last_json);
        aep_edge_string_free(w[i].last_json);
    }
    CHECK_STATUS(k.status, AEP_EDGE_OK, k.report);
    CHECK(has(k.report, "\"inFlight\":0"), "close report inFlight 0", k.report);
    CHECK(json_int_or(k.report, "waitedMs", -1) >= 100, "close waited for the calls", k.report);
    aep_edge_string_free(k.report);
    out = NULL;
    s = interact(c, EVENT_REQUEST, &out);
    CHECK_STATUS(s, AEP_EDGE_CLOSED, out);
    aep_edge_string_free(out);
    aep_edge_client_free(c);

    /* 2. close with 50 ms while a call waits on a 1 s delay: TIMEOUT, inFlight 1. */
    emu_reset(BASE_URL);
    emu_delay(BASE_URL, "/interact", 1, ms(1000));
    c = client_with(BASE_URL, "");
    memset(w, 0, sizeof w);
    w[0].client = c;
    w[0].calls = 1;
    pthread_create(&w[0].tid, NULL, worker_main, &w[0]);
    CHECK(emu_wait_for(BASE_URL, "\"method\":", 1, ms(3000)), "call reached the emulator", NULL);
    out = NULL;
    t0 = now_ms();
    s = aep_edge_client_close(c, 50, &out);
    took = now_ms() - t0;
    CHECK_STATUS(s, AEP_EDGE_TIMEOUT, out);
    CHECK(has(out, "\"inFlight\":1"), "close report inFlight 1", out);
    CHECK(has(out, "\"waitedMs\":"), "close report waitedMs", out);
    CHECK_ERROR(out, 7, "timeout");
    CHECK(took < (double)ms(900), "close(50) returned before the call finished", NULL);
    aep_edge_string_free(out);
    pthread_join(w[0].tid, NULL);
    CHECK(w[0].last == AEP_EDGE_OK, "the delayed call still ended with its own outcome (OK)",
          w[0].last_json);
    aep_edge_string_free(w[0].last_json);
    out = NULL;
    s = aep_edge_client_close(c, 1000, &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    CHECK(has(out, "\"inFlight\":0"), "second close: inFlight 0", out);
    aep_edge_string_free(out);
    aep_edge_client_free(c);

    /* 3. A call in a retry wait (503, Retry-After 5) ends promptly with CLOSED. */
    emu_reset(BASE_URL);
    emu_fault(BASE_URL,
              "{\"status\":503,\"retryAfter\":5,\"pathContains\":\"/interact\"}");
    c = client_with(BASE_URL, ",\"retry\":{\"maxAttempts\":3,\"baseDelayMs\":10,"
                              "\"maxDelayMs\":10000}");
    memset(w, 0, sizeof w);
    w[0].client = c;
    w[0].calls = 1;
    pthread_create(&w[0].tid, NULL, worker_main, &w[0]);
    CHECK(emu_wait_for(BASE_URL, "\"status\":503", 1, ms(3000)), "the 503 was answered", NULL);
    sleep_ms(ms(200)); /* let the client read it and enter the wait */
    out = NULL;
    t0 = now_ms();
    s = aep_edge_client_close(c, (uint32_t)ms(10000), &out);
    took = now_ms() - t0;
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    CHECK(has(out, "\"inFlight\":0"), "close report inFlight 0", out);
    CHECK(took < (double)ms(2000), "close did not wait for Retry-After", NULL);
    aep_edge_string_free(out);
    pthread_join(w[0].tid, NULL);
    CHECK(w[0].ended_ms - t0 < (double)ms(2000), "the waiting call ended promptly", NULL);
    EXPECT_ERROR(w[0].last, w[0].last_json, AEP_EDGE_CLOSED, "closed");
    CHECK(json_int_or(w[0].last_json, "attempts", -1) == 1, "one attempt made", w[0].last_json);
    aep_edge_string_free(w[0].last_json);
    CHECK(emu_request_count(BASE_URL) == 1, "no retry was sent after close", NULL);
    aep_edge_client_free(c);
}

/* ------------------------------------------------------------------ logging */

struct log_sink {
    pthread_mutex_t mu;
    int count;
    int bad_level;
    int bad_user_data;
    int empty;
    int secret_seen;
    uint32_t max_level_seen;
    int levels[6];
};

static void log_cb(void *user_data, uint32_t level, const char *message) {
    struct log_sink *sink = user_data;
    pthread_mutex_lock(&sink->mu);
    sink->count++;
    if (level < 1 || level > 5) {
        sink->bad_level++;
    } else {
        sink->levels[level]++;
    }
    if (level > sink->max_level_seen) {
        sink->max_level_seen = level;
    }
    if (message == NULL || message[0] == '\0') {
        sink->empty++;
    } else if (strstr(message, "c-log-secret-token") != NULL) {
        sink->secret_seen++;
    }
    pthread_mutex_unlock(&sink->mu);
}

static void log_cb_checking(void *user_data, uint32_t level, const char *message);
static struct log_sink *expected_sink;
static void log_cb_checking(void *user_data, uint32_t level, const char *message) {
    if (user_data != (void *)expected_sink) {
        pthread_mutex_lock(&expected_sink->mu);
        expected_sink->bad_user_data++;
        pthread_mutex_unlock(&expected_sink->mu);
        return;
    }
    log_cb(user_data, level, message);
}

static void test_logging(void) {
    aep_edge_client *c;
    struct log_sink sink;
    char *out;
    aep_edge_status s;
    int before;
    current_test = "log_callback";
    emu_reset(BASE_URL);
    memset(&sink, 0, sizeof sink);
    pthread_mutex_init(&sink.mu, NULL);
    expected_sink = &sink;

    c = client_with(BASE_URL, ",\"retry\":{\"maxAttempts\":2,\"baseDelayMs\":10,\"maxDelayMs\":20}");
    s = aep_edge_set_log_callback(c, AEP_EDGE_LOG_TRACE, log_cb_checking, &sink);
    CHECK_STATUS(s, AEP_EDGE_OK, NULL);
    out = NULL;
    s = interact(c, EVENT_REQUEST, &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    aep_edge_string_free(out);
    /* A retried attempt logs a warning. */
    emu_fault(BASE_URL, "{\"status\":503,\"pathContains\":\"/interact\"}");
    out = NULL;
    s = interact(c, EVENT_REQUEST, &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    aep_edge_string_free(out);
    pthread_mutex_lock(&sink.mu);
    CHECK(sink.count > 0, "log callback received messages", NULL);
    CHECK(sink.bad_level == 0, "levels are 1..5", NULL);
    CHECK(sink.bad_user_data == 0, "user_data passed back unchanged", NULL);
    CHECK(sink.empty == 0, "messages are non-empty", NULL);
    CHECK(sink.levels[AEP_EDGE_LOG_WARN] > 0, "a retried attempt logs a warning", NULL);
    CHECK(sink.levels[AEP_EDGE_LOG_DEBUG] + sink.levels[AEP_EDGE_LOG_TRACE] > 0,
          "debug/trace lines per attempt", NULL);
    pthread_mutex_unlock(&sink.mu);

    /* min_level filters: with WARN, a successful call logs nothing above WARN. */
    s = aep_edge_set_log_callback(c, AEP_EDGE_LOG_WARN, log_cb_checking, &sink);
    CHECK_STATUS(s, AEP_EDGE_OK, NULL);
    pthread_mutex_lock(&sink.mu);
    sink.max_level_seen = 0;
    pthread_mutex_unlock(&sink.mu);
    out = NULL;
    s = interact(c, EVENT_REQUEST, &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    aep_edge_string_free(out);
    pthread_mutex_lock(&sink.mu);
    CHECK(sink.max_level_seen <= AEP_EDGE_LOG_WARN, "min_level WARN: nothing above WARN", NULL);
    pthread_mutex_unlock(&sink.mu);

    /* Removing it (NULL) stops the messages. */
    s = aep_edge_set_log_callback(c, AEP_EDGE_LOG_TRACE, NULL, NULL);
    CHECK_STATUS(s, AEP_EDGE_OK, NULL);
    pthread_mutex_lock(&sink.mu);
    before = sink.count;
    pthread_mutex_unlock(&sink.mu);
    out = NULL;
    s = interact(c, EVENT_REQUEST, &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    aep_edge_string_free(out);
    out = NULL;
    s = interact(c, "{}", &out);
    CHECK_STATUS(s, AEP_EDGE_INVALID_REQUEST, out);
    aep_edge_string_free(out);
    s = aep_edge_client_close(c, 1000, NULL);
    CHECK_STATUS(s, AEP_EDGE_OK, NULL);
    pthread_mutex_lock(&sink.mu);
    CHECK(sink.count == before, "no messages after the callback was removed", NULL);
    pthread_mutex_unlock(&sink.mu);
    aep_edge_client_free(c);

    /* Secrets never reach the log. */
    memset(&sink.levels, 0, sizeof sink.levels);
    sink.count = 0;
    c = client_with(AUTH_BASE_URL,
                    ",\"orgId\":\"C0FFEE@AdobeOrg\",\"auth\":{\"type\":\"token\","
                    "\"accessToken\":\"c-log-secret-token\",\"apiKey\":\"k\"}");
    s = aep_edge_set_log_callback(c, AEP_EDGE_LOG_TRACE, log_cb_checking, &sink);
    CHECK_STATUS(s, AEP_EDGE_OK, NULL);
    out = NULL;
    s = interact(c, EVENT_REQUEST, &out);
    CHECK_STATUS(s, AEP_EDGE_OK, out);
    aep_edge_string_free(out);
    aep_edge_client_close(c, 1000, NULL);
    pthread_mutex_lock(&sink.mu);
    CHECK(sink.count > 0 && sink.secret_seen == 0, "the access token never appears in logs",
          NULL);
    pthread_mutex_unlock(&sink.mu);
    aep_edge_client_free(c);
    pthread_mutex_destroy(&sink.mu);
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv) {
    BASE_URL = argc > 1 ? argv[1] : getenv("AEP_EDGE_BASE_URL");
    AUTH_BASE_URL = argc > 2 ? argv[2] : getenv("AEP_EDGE_AUTH_BASE_URL");
    if (BASE_URL == NULL || AUTH_BASE_URL == NULL) {
        fprintf(stderr,
                "usage: %s BASE_URL AUTH_BASE_URL\n"
                "  (or set AEP_EDGE_BASE_URL and AEP_EDGE_AUTH_BASE_URL)\n"
                "  BASE_URL: aep-edge-emulator --port 0 --datastream " DATASTREAM "\n"
                "  AUTH_BASE_URL: aep-edge-emulator --port 0 --require-auth\n",
                argv[0]);
        return 2;
    }
    read_time_scale();
    unsetenv("AEP_EDGE_TEST_PANIC");
    current_test = "setup";
    emu_reset(BASE_URL); /* drop what an earlier, failed run may have queued */
    emu_reset(AUTH_BASE_URL);

    test_versions();
    test_success();
    test_null_arguments();
    test_invalid_utf8_and_json();
    test_invalid_config();
    test_invalid_request();
    test_transport();
    test_timeout();
    test_http_error();
    test_result_shapes();
    test_auth();
    test_invalid_response();
    test_closed();
    test_panic();
    test_session();
    test_threads();
    test_close_in_flight();
    test_logging();

    return test_summary();
}
