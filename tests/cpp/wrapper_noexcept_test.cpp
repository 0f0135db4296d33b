// Tests of bindings/cpp/aep_edge.hpp built with -fno-exceptions and
// AEP_EDGE_NO_EXCEPTIONS: every call returns a Result, against the emulator
// (AEP_EDGE_BASE_URL, started with --datastream known-ds). Linked with
// wrapper_noexcept_second_tu.cpp, built the same way.
#ifndef AEP_EDGE_NO_EXCEPTIONS
#error "build with -DAEP_EDGE_NO_EXCEPTIONS -fno-exceptions"
#endif
#include "aep_edge.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <optional>
#include <string>
#include <type_traits>

int noexcept_second_tu_interact(const aep_edge::Client &client, const char *request);

static int passed = 0, failed = 0;
#define CHECK(cond)                                                             \
    do {                                                                        \
        if (cond) {                                                             \
            ++passed;                                                           \
        } else {                                                                \
            ++failed;                                                           \
            std::fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                       \
    } while (0)

static const char *EVENT =
    R"({"event":{"xdm":{"identityMap":{"Email_LC_SHA256":[{"id":"0c7e6a405862e402eb76a70f8a26fc732d07c32931e9fae9ab1582911d2e8a3b","primary":true}]},"eventType":"web.webpagedetails.pageViews","web":{"webPageDetails":{"URL":"https://alloystore.dev/","name":"home-demo-Home Page"}},"timestamp":"2021-08-09T14:09:20.859Z"},"data":{"prop1":"custom value"}}})";

static std::string config(const char *base, const char *datastream) {
    return std::string(R"({"datastreamId":")") + datastream + R"(","baseUrl":")" + base +
           R"(","retry":{"baseDelayMs":10}})";
}

// The calls return result objects in this mode.
static_assert(std::is_same_v<decltype(std::declval<aep_edge::Client &>().interact("")),
                             aep_edge::Result<std::string>>);
static_assert(std::is_same_v<decltype(std::declval<aep_edge::Client &>().reset_session()),
                             aep_edge::Result<void>>);
static_assert(!std::is_constructible_v<aep_edge::Client, std::string>,
              "without exceptions a client is made with Client::create");

int main() {
    const char *base = std::getenv("AEP_EDGE_BASE_URL");
    if (!base) {
        std::fprintf(stderr, "set AEP_EDGE_BASE_URL\n");
        return 2;
    }

    // A refused config is a failed Result naming the key.
    auto bad = aep_edge::Client::create(R"({"datastreamId":"d","colour":1})");
    CHECK(!bad.ok());
    CHECK(bad.status() == AEP_EDGE_INVALID_CONFIG);
    CHECK(bad.error().kind() == "invalid_config");
    CHECK(std::string(bad.error().what()).find("colour") != std::string::npos);

    auto made = aep_edge::Client::create(config(base, "known-ds"));
    CHECK(made.ok());
    if (!made) return 1;
    aep_edge::Client client = std::move(made).value();

    auto result = client.interact(EVENT);
    CHECK(result.ok());
    CHECK(result && result->find("\"httpStatus\":200") != std::string::npos);
    CHECK(noexcept_second_tu_interact(client, EVENT) == AEP_EDGE_OK);
    auto session = client.session();
    CHECK(session && session->find("\"ecid\":\"") != std::string::npos);
    CHECK(client.reset_session().ok());
    session = client.session();
    CHECK(session && session->find("\"ecid\":null") != std::string::npos);

    // An unknown datastream: the HTTP status and EXEG code, no exception.
    auto unknown = aep_edge::Client::create(config(base, "BOGUS"));
    CHECK(unknown.ok());
    if (unknown) {
        auto http = unknown->interact(EVENT);
        CHECK(http.status() == AEP_EDGE_HTTP_ERROR);
        CHECK(http.error().http_status() == 400);
        CHECK(http.error().code() == "EXEG-0003-400");
        // Async without exceptions: futures of Results, callbacks, poll.
        auto failing = unknown->interact_async(EVENT).get();
        CHECK(failing.status() == AEP_EDGE_HTTP_ERROR && failing.error().code() == "EXEG-0003-400");
    }
    auto future = client.interact_async(EVENT).get();
    CHECK(future && future->find("\"httpStatus\":200") != std::string::npos);
    CHECK(client.interact_async(R"({"evnt":{}})").get().status() == AEP_EDGE_INVALID_REQUEST);
    std::promise<aep_edge::Result<std::string>> got;
    auto id = client.interact_async(EVENT, [&](aep_edge::Result<std::string> r) { got.set_value(std::move(r)); });
    CHECK(id && *id != 0);
    CHECK(got.get_future().get().ok());
    auto polled = client.interact_async(EVENT, aep_edge::by_poll);
    CHECK(polled.ok());
    std::optional<aep_edge::Completion> done;
    for (int i = 0; i < 500 && !done; ++i) {
        auto p = client.poll(std::chrono::milliseconds(20));
        if (p) done = std::move(*p);
    }
    CHECK(done && polled && done->call_id == *polled && done->result.ok());
    auto empty = client.poll();
    CHECK(empty.ok() && !empty->has_value());

    auto request = client.interact(R"({"evnt":{}})");
    CHECK(request.status() == AEP_EDGE_INVALID_REQUEST);
    CHECK(request.error().kind() == "invalid_request");
    // Token auth is not configured: refused with a status, not an abort.
    CHECK(!client.set_access_token("token").ok());

    std::atomic<int> lines{0};
    CHECK(client.set_log_callback(AEP_EDGE_LOG_DEBUG, [&](uint32_t, std::string_view m) {
                    if (!m.empty()) ++lines;
                }).ok());
    CHECK(client.interact(EVENT).ok());
    CHECK(lines.load() > 0);
    CHECK(client.set_log_callback(AEP_EDGE_LOG_DEBUG, nullptr).ok());

    auto queued = client.send_event(EVENT);
    CHECK(queued && queued->find("\"eventId\":\"") != std::string::npos);
    auto flushed = client.flush(std::chrono::seconds(20));
    CHECK(flushed && !flushed->timed_out);
    auto stats = client.stats();
    CHECK(stats && stats->find("\"queued\":0") != std::string::npos);
    CHECK(client.send_event(R"({"evnt":{}})").status() == AEP_EDGE_INVALID_REQUEST);

    auto display = aep_edge::proposition_event(R"({"kind":"display","propositions":[{"id":"AT:1","scope":"hero"}]})");
    CHECK(display && display->find("decisioning.propositionDisplay") != std::string::npos);
    CHECK(aep_edge::proposition_event("{").status() == AEP_EDGE_INVALID_JSON);

    auto report = client.close(std::chrono::seconds(5));
    CHECK(report && report->in_flight == 0 && !report->timed_out);
    CHECK(client.interact(EVENT).status() == AEP_EDGE_CLOSED);

    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
