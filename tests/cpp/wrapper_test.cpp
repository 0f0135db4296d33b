// Tests of bindings/cpp/aep_edge.hpp against the emulator (AEP_EDGE_BASE_URL,
// started with --datastream known-ds, and AEP_EDGE_AUTH_BASE_URL, started with
// --require-auth). Linked with wrapper_second_tu.cpp, which includes the
// wrapper too, to catch ODR and duplicate-symbol problems.
#include "aep_edge.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

int second_tu_version_length();

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

static std::string config(const char *base, const char *datastream, const char *extra = "") {
    return std::string(R"({"datastreamId":")") + datastream + R"(","baseUrl":")" + base +
           R"(","retry":{"baseDelayMs":10})" + extra + "}";
}

template <typename F>
static aep_edge::Error expect_error(F &&f) {
    try {
        f();
    } catch (const aep_edge::Error &e) {
        return e;
    }
    return aep_edge::Error(AEP_EDGE_OK, "{}");
}

int main() {
    const char *base = std::getenv("AEP_EDGE_BASE_URL");
    const char *auth_base = std::getenv("AEP_EDGE_AUTH_BASE_URL");
    if (!base || !auth_base) {
        std::fprintf(stderr, "set AEP_EDGE_BASE_URL and AEP_EDGE_AUTH_BASE_URL\n");
        return 2;
    }

    CHECK(aep_edge::Client::version() == std::to_string(AEP_EDGE_VERSION_MAJOR) + "." +
                                              std::to_string(AEP_EDGE_VERSION_MINOR) + "." +
                                              std::to_string(AEP_EDGE_VERSION_PATCH));
    CHECK(second_tu_version_length() > 0);

    // A refused config is an exception with the status and kind.
    auto bad = expect_error([] { aep_edge::Client c(R"({"datastreamId":"d","colour":1})"); });
    CHECK(bad.status() == AEP_EDGE_INVALID_CONFIG);
    CHECK(bad.kind() == "invalid_config");
    CHECK(std::string(bad.what()).find("colour") != std::string::npos);

    // Client::create never throws; value() of a failed Result throws its Error.
    auto created = aep_edge::Client::create(R"({"datastreamId":"d","colour":1})");
    CHECK(!created && created.status() == AEP_EDGE_INVALID_CONFIG);
    CHECK(expect_error([&] { created.value(); }).kind() == "invalid_config");

    aep_edge::Client client(config(base, "known-ds"));
    std::string result = client.interact(EVENT);
    CHECK(result.find("\"handle\"") != std::string::npos);
    CHECK(result.find("\"httpStatus\":200") != std::string::npos);
    CHECK(client.session().find("\"ecid\":\"") != std::string::npos);
    client.reset_session();
    CHECK(client.session().find("\"ecid\":null") != std::string::npos);

    // An HTTP error carries the HTTP status and EXEG code.
    aep_edge::Client unknown(config(base, "BOGUS"));
    auto http = expect_error([&] { unknown.interact(EVENT); });
    CHECK(http.status() == AEP_EDGE_HTTP_ERROR);
    CHECK(http.kind() == "http");
    CHECK(http.http_status() == 400);
    CHECK(http.code() == "EXEG-0003-400");

    // The Edge Network refusing a missing token is an auth error.
    aep_edge::Client anonymous(config(auth_base, "known-ds"));
    auto auth = expect_error([&] { anonymous.interact(EVENT); });
    CHECK(auth.status() == AEP_EDGE_AUTH_ERROR);
    CHECK(auth.code() == "EXEG-0500-401");

    // Bad requests never leave the process.
    auto request = expect_error([&] { client.interact(R"({"evnt":{}})"); });
    CHECK(request.status() == AEP_EDGE_INVALID_REQUEST);
    CHECK(request.http_status() == -1);

    // A lambda logger, and one that throws: nothing unwinds into the library.
    std::atomic<int> lines{0};
    client.set_log_callback(AEP_EDGE_LOG_DEBUG, [&](uint32_t level, std::string_view message) {
        if (level >= 1 && level <= 5 && !message.empty()) ++lines;
    });
    client.interact(EVENT);
    CHECK(lines.load() > 0);
    client.set_log_callback(AEP_EDGE_LOG_DEBUG, [](uint32_t, std::string_view) { throw 42; });
    client.interact(EVENT);
    client.set_log_callback(AEP_EDGE_LOG_DEBUG, nullptr);

    // Eight threads share one client.
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 10; ++i) {
                try {
                    client.interact(EVENT);
                    ++ok;
                } catch (const aep_edge::Error &) {
                }
            }
        });
    }
    for (auto &t : threads) t.join();
    CHECK(ok.load() == 80);

    // Async: a future, a callback, and poll mode.
    auto future = client.interact_async(EVENT);
    CHECK(future.get().find("\"httpStatus\":200") != std::string::npos);
    auto failing = unknown.interact_async(EVENT);
    CHECK(expect_error([&] { failing.get(); }).code() == "EXEG-0003-400");
    auto refused = client.interact_async(R"({"evnt":{}})");
    CHECK(refused.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
    CHECK(expect_error([&] { refused.get(); }).status() == AEP_EDGE_INVALID_REQUEST);
    CHECK(expect_error([&] { client.interact_async(R"({"evnt":{}})", [](aep_edge::Result<std::string>) {}); })
              .status() == AEP_EDGE_INVALID_REQUEST);

    std::promise<aep_edge::Result<std::string>> got;
    uint64_t callback_id =
        client.interact_async(EVENT, [&](aep_edge::Result<std::string> r) { got.set_value(std::move(r)); });
    CHECK(callback_id != 0);
    auto by_callback = got.get_future().get();
    CHECK(by_callback && by_callback->find("\"httpStatus\":200") != std::string::npos);

    uint64_t polled_id = client.interact_async(EVENT, aep_edge::by_poll);
    uint64_t polled_fail = unknown.interact_async(EVENT, aep_edge::by_poll);
    std::optional<aep_edge::Completion> done;
    for (int i = 0; i < 500 && !done; ++i) done = client.poll(std::chrono::milliseconds(20));
    CHECK(done && done->call_id == polled_id && done->result.ok());
    CHECK(done && done->result->find("\"type\":\"state:store\"") != std::string::npos);
    CHECK(!client.poll());
    std::optional<aep_edge::Completion> failed_poll;
    for (int i = 0; i < 500 && !failed_poll; ++i) failed_poll = unknown.poll(std::chrono::milliseconds(20));
    CHECK(failed_poll && failed_poll->call_id == polled_fail);
    CHECK(failed_poll && failed_poll->result.status() == AEP_EDGE_HTTP_ERROR &&
          failed_poll->result.error().code() == "EXEG-0003-400");

    // A client destroyed with calls still queued: every future completes.
    std::vector<aep_edge::Client::Future> orphans;
    {
        aep_edge::Client one_worker(config(base, "known-ds", R"(,"async":{"workers":1})"));
        for (int i = 0; i < 20; ++i) orphans.push_back(one_worker.interact_async(EVENT));
    }
    int settled = 0;
    for (auto &f : orphans) {
        if (f.wait_for(std::chrono::seconds(30)) != std::future_status::ready) continue;
        try {
            f.get();
            ++settled;
        } catch (const aep_edge::Error &e) {
            if (e.status() == AEP_EDGE_CLOSED) ++settled;
        }
    }
    CHECK(settled == 20);

    // The durable queue: fire and forget, flush, stats, an outcome per event.
    std::atomic<int> delivered{0};
    client.set_outcome_callback([&](std::string_view outcome) {
        if (outcome.find("\"outcome\":\"delivered\"") != std::string_view::npos) ++delivered;
    });
    for (int i = 0; i < 5; ++i) CHECK(client.send_event(EVENT).find("\"eventId\":\"") != std::string::npos);
    aep_edge::FlushReport flushed = client.flush(std::chrono::seconds(20));
    CHECK(!flushed.timed_out);
    CHECK(flushed.stats.find("\"queued\":0") != std::string::npos);
    for (int i = 0; i < 500 && delivered.load() < 5; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(delivered.load() == 5);
    CHECK(client.stats().find("\"delivered\":5") != std::string::npos);
    CHECK(expect_error([&] { client.send_event(R"({"evnt":{}})"); }).status() == AEP_EDGE_INVALID_REQUEST);
    client.set_outcome_callback(nullptr);

    // Propositions: the display event, sent like any other.
    std::string display = aep_edge::proposition_event(
        R"({"kind":"display","propositions":[{"id":"AT:1","scope":"hero","scopeDetails":{"decisionProvider":"TGT"},"items":[]}]})");
    CHECK(display.find("\"eventType\":\"decisioning.propositionDisplay\"") != std::string::npos);
    CHECK(display.find("\"items\"") == std::string::npos);
    CHECK(client.interact(display).find("\"httpStatus\":200") != std::string::npos);
    CHECK(expect_error([] { aep_edge::proposition_event(R"({"kind":"seen","propositions":[]})"); }).status() ==
          AEP_EDGE_INVALID_REQUEST);

    // Moving keeps one owner; closing refuses later calls.
    aep_edge::Client moved(std::move(client));
    CHECK(moved.get() != nullptr);
    aep_edge::CloseReport report = moved.close(std::chrono::seconds(5));
    CHECK(report.in_flight == 0 && !report.timed_out);
    auto closed = expect_error([&] { moved.interact(EVENT); });
    CHECK(closed.status() == AEP_EDGE_CLOSED);

    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
