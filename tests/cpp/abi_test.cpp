// C++17 test of the C ABI header: extern "C" guards, aep_edge_status as a real enum,
// RAII ownership with std::unique_ptr, std::thread sharing one client, close in flight.
//
// Usage: abi_test_cpp BASE_URL   (or AEP_EDGE_BASE_URL), an emulator started with
//        `aep-edge-emulator --port 0 --datastream known-ds`.
// AEP_EDGE_TEST_TIME_SCALE (integer, default 1) stretches delays and timeouts.
// Linked with second_tu.cpp, which includes the header too (ODR / duplicate symbols).

#include "aep_edge.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

// Defined in second_tu.cpp.
std::string version_from_second_tu();
aep_edge_status closed_status_from_second_tu();
bool second_tu_null_argument_check();

// The header's types behave as C++ types.
static_assert(std::is_enum<aep_edge_status>::value, "aep_edge_status is an enum in C++");
static_assert(std::is_same<std::underlying_type<aep_edge_status>::type, uint32_t>::value,
              "aep_edge_status has a fixed uint32_t underlying type");
static_assert(sizeof(aep_edge_status) == 4, "aep_edge_status is 32 bits");
static_assert(AEP_EDGE_PANIC == 99 && AEP_EDGE_CLOSED == 12, "fixed numbers");
static_assert(std::is_same<decltype(&aep_edge_interact),
                           aep_edge_status (*)(const aep_edge_client *, const char *, char **)>::value,
              "aep_edge_interact signature");

namespace {

struct ClientDeleter {
    void operator()(aep_edge_client *c) const noexcept { aep_edge_client_free(c); }
};
struct StringDeleter {
    void operator()(char *s) const noexcept { aep_edge_string_free(s); }
};
using Client = std::unique_ptr<aep_edge_client, ClientDeleter>;
using String = std::unique_ptr<char, StringDeleter>;

struct Outcome {
    aep_edge_status status;
    String json;
    bool has(const char *needle) const { return json && std::strstr(json.get(), needle); }
    const char *text() const { return json ? json.get() : "(null)"; }
};

const char *EVENT =
    R"({"event":{"xdm":{"identityMap":{"Email_LC_SHA256":[{"id":"0c7e6a405862e402eb76a70f8a26fc732d07c32931e9fae9ab1582911d2e8a3b","primary":true}]},"eventType":"web.webpagedetails.pageViews","web":{"webPageDetails":{"URL":"https://alloystore.dev/","name":"home-demo-Home Page"}},"timestamp":"2021-08-09T14:09:20.859Z"},"data":{"prop1":"custom value"}}})";

std::string base_url;
long scale = 1;
std::mutex check_mu;
int passed = 0, failed = 0;

void check_at(bool ok, const std::string &what, const char *json, int line) {
    std::lock_guard<std::mutex> lock(check_mu);
    if (ok) {
        ++passed;
        return;
    }
    ++failed;
    std::fprintf(stderr, "FAIL line %d: %s\n", line, what.c_str());
    if (json) std::fprintf(stderr, "      json: %.1000s\n", json);
}
#define CHECK(cond, what, json) check_at(static_cast<bool>(cond), (what), (json), __LINE__)

long ms(long n) { return n * scale; }

Outcome interact(const Client &c, const char *request) {
    char *out = nullptr;
    aep_edge_status s = aep_edge_interact(c.get(), request, &out);
    return Outcome{s, String(out)};
}

Outcome collect(const Client &c, const char *request) {
    char *out = nullptr;
    aep_edge_status s = aep_edge_collect(c.get(), request, &out);
    return Outcome{s, String(out)};
}

std::pair<Client, Outcome> make_client(const std::string &config) {
    aep_edge_client *raw = nullptr;
    char *err = nullptr;
    aep_edge_status s = aep_edge_client_new(config.c_str(), &raw, &err);
    return {Client(raw), Outcome{s, String(err)}};
}

std::string config(const std::string &extra = "") {
    return R"({"datastreamId":"known-ds","baseUrl":")" + base_url +
           R"(","timeouts":{"requestMs":)" + std::to_string(ms(20000)) +
           R"(,"totalMs":)" + std::to_string(ms(60000)) + "}" + extra + "}";
}

Client must_client(const std::string &extra = "") {
    auto made = make_client(config(extra));
    CHECK(made.second.status == AEP_EDGE_OK && made.first, "client_new OK", made.second.text());
    return std::move(made.first);
}

// One HTTP/1.1 exchange with the emulator's control endpoints; returns the body.
std::string control(const char *method, const std::string &path, const std::string &body = "") {
    char host[64] = {0};
    unsigned port = 0;
    if (std::sscanf(base_url.c_str(), "http://%63[^:]:%u", host, &port) != 2) return "";
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, host, &addr.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return "";
    if (connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
        close(fd);
        return "";
    }
    std::string req = std::string(method) + " " + path + " HTTP/1.1\r\nHost: " + host +
                      "\r\nContent-Type: application/json\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    if (write(fd, req.data(), req.size()) < 0) {
        close(fd);
        return "";
    }
    std::string resp;
    char buf[8192];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) resp.append(buf, static_cast<size_t>(n));
    close(fd);
    auto at = resp.find("\r\n\r\n");
    return at == std::string::npos ? "" : resp.substr(at + 4);
}

int count_of(const std::string &hay, const std::string &needle) {
    int n = 0;
    for (auto at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
    return n;
}

void test_versions() {
    std::string want = std::to_string(AEP_EDGE_VERSION_MAJOR) + "." +
                       std::to_string(AEP_EDGE_VERSION_MINOR) + "." +
                       std::to_string(AEP_EDGE_VERSION_PATCH);
    CHECK(want == aep_edge_version(), "version matches the header macros", aep_edge_version());
    CHECK(aep_edge_abi_version() == AEP_EDGE_ABI_VERSION, "abi version", nullptr);
    CHECK(version_from_second_tu() == aep_edge_version(), "second TU sees the same library",
          nullptr);
    CHECK(closed_status_from_second_tu() == AEP_EDGE_CLOSED, "enum shared across TUs", nullptr);
    CHECK(second_tu_null_argument_check(), "second TU: NULL config is NULL_ARGUMENT", nullptr);
    // A status is usable in a switch like any enum.
    aep_edge_status s = AEP_EDGE_TIMEOUT;
    int n = 0;
    switch (s) {
        case AEP_EDGE_TIMEOUT: n = 7; break;
        default: n = -1; break;
    }
    CHECK(n == 7 && static_cast<uint32_t>(s) == 7u, "switch over aep_edge_status", nullptr);
}

void test_success() {
    control("POST", "/__emulator/reset");
    Client c = must_client();
    auto r = interact(c, EVENT);
    CHECK(r.status == AEP_EDGE_OK, "interact OK", r.text());
    CHECK(r.has("\"type\":\"state:store\""), "state:store handle", r.text());
    CHECK(r.has("\"type\":\"locationHint:result\""), "locationHint:result handle", r.text());
    CHECK(r.has("\"client\":{") && r.has("\"httpStatus\":200"), "client.httpStatus 200",
          r.text());
    auto k = collect(c, R"({"events":[{"xdm":{"eventType":"a"}},{"xdm":{"eventType":"b"}}]})");
    CHECK(k.status == AEP_EDGE_OK && k.has("\"httpStatus\":202"), "collect 202", k.text());
    auto d = interact(c, R"({"event":{},"query":{"personalization":{"decisionScopes":["cpp-scope"]}}})");
    CHECK(d.status == AEP_EDGE_OK && d.has("\"type\":\"personalization:decisions\"") &&
              d.has("\"scope\":\"cpp-scope\""),
          "personalization:decisions for the scope", d.text());
}

void test_errors() {
    // Failed client_new: the unique_ptr stays empty, the error is owned by a String.
    auto bad = make_client(config(R"(,"cppUnknownKey":true)"));
    CHECK(!bad.first, "no client on failure", nullptr);
    CHECK(bad.second.status == AEP_EDGE_INVALID_CONFIG, "INVALID_CONFIG", bad.second.text());
    CHECK(bad.second.has("\"kind\":\"invalid_config\"") && bad.second.has("cppUnknownKey"),
          "unknown key named", bad.second.text());

    auto nul = make_client("{\"datastreamId\":");
    CHECK(nul.second.status == AEP_EDGE_INVALID_JSON && nul.second.has("\"kind\":\"invalid_json\""),
          "INVALID_JSON config", nul.second.text());

    Client c = must_client();
    char *out = nullptr;
    aep_edge_status s = aep_edge_interact(c.get(), nullptr, &out);
    String owned(out);
    CHECK(s == AEP_EDGE_NULL_ARGUMENT && owned &&
              std::strstr(owned.get(), "\"kind\":\"null_argument\""),
          "NULL request is NULL_ARGUMENT", owned.get());

    auto inv = interact(c, "{\"events\":[]}");
    CHECK(inv.status == AEP_EDGE_INVALID_REQUEST && inv.has("\"kind\":\"invalid_request\""),
          "INVALID_REQUEST", inv.text());

    auto unknown = make_client(R"({"datastreamId":"cpp-unknown-ds","baseUrl":")" + base_url + "\"}");
    auto h = interact(unknown.first, EVENT);
    CHECK(h.status == AEP_EDGE_HTTP_ERROR && h.has("\"code\":\"EXEG-0003-400\"") &&
              h.has("\"httpStatus\":400") && h.has("\"attempts\":1"),
          "HTTP_ERROR EXEG-0003-400", h.text());

    CHECK(aep_edge_client_close(c.get(), 1000, nullptr) == AEP_EDGE_OK, "close OK", nullptr);
    auto closed = interact(c, EVENT);
    CHECK(closed.status == AEP_EDGE_CLOSED && closed.has("\"kind\":\"closed\""), "CLOSED",
          closed.text());
}

void test_threads() {
    control("POST", "/__emulator/reset");
    Client c = must_client();
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 25; ++i) {
                auto r = interact(c, EVENT);
                if (r.status == AEP_EDGE_OK && r.has("\"httpStatus\":200")) {
                    ++ok;
                } else {
                    CHECK(false, "threaded interact", r.text());
                }
            }
        });
    }
    for (auto &t : threads) t.join();
    CHECK(ok == 200, "8 threads x 25 interacts succeeded", nullptr);
    CHECK(count_of(control("GET", "/__emulator/requests"), "\"method\":") == 200,
          "emulator saw 200 requests", nullptr);
}

void test_close_in_flight() {
    control("POST", "/__emulator/reset");
    control("POST", "/__emulator/faults",
            R"({"count":2,"delayMs":)" + std::to_string(ms(500)) + R"(,"pathContains":"/interact"})");
    Client c = must_client();
    std::vector<aep_edge_status> results(2, AEP_EDGE_PANIC);
    std::vector<std::thread> calls;
    for (int i = 0; i < 2; ++i) {
        calls.emplace_back([&, i] { results[static_cast<size_t>(i)] = interact(c, EVENT).status; });
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms(3000));
    while (count_of(control("GET", "/__emulator/requests"), "\"method\":") < 2 &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    aep_edge_status close_status = AEP_EDGE_PANIC;
    String report;
    std::thread closer([&] {
        char *out = nullptr;
        close_status = aep_edge_client_close(c.get(), static_cast<uint32_t>(ms(5000)), &out);
        report.reset(out);
    });
    closer.join();
    for (auto &t : calls) t.join();
    CHECK(close_status == AEP_EDGE_OK, "close waited for in-flight calls", report.get());
    CHECK(report && std::strstr(report.get(), "\"inFlight\":0"), "inFlight 0", report.get());
    CHECK(results[0] == AEP_EDGE_OK && results[1] == AEP_EDGE_OK,
          "in-flight calls ended with their own outcome", nullptr);
    auto after = interact(c, EVENT);
    CHECK(after.status == AEP_EDGE_CLOSED, "new calls after close are CLOSED", after.text());
}

void test_log_callback() {
    control("POST", "/__emulator/reset");
    Client c = must_client();
    std::atomic<int> count{0};
    // A captureless lambda converts to the C function pointer type.
    aep_edge_log_fn fn = [](void *user_data, uint32_t level, const char *message) {
        if (level >= 1 && level <= 5 && message && *message) {
            ++*static_cast<std::atomic<int> *>(user_data);
        }
    };
    CHECK(aep_edge_set_log_callback(c.get(), AEP_EDGE_LOG_TRACE, fn, &count) == AEP_EDGE_OK,
          "set_log_callback", nullptr);
    CHECK(interact(c, EVENT).status == AEP_EDGE_OK, "interact with logging", nullptr);
    CHECK(count > 0, "log messages received", nullptr);
    CHECK(aep_edge_set_log_callback(c.get(), AEP_EDGE_LOG_TRACE, nullptr, nullptr) == AEP_EDGE_OK,
          "remove callback", nullptr);
    int before = count;
    CHECK(interact(c, EVENT).status == AEP_EDGE_OK, "interact without logging", nullptr);
    CHECK(count == before, "no messages after removal", nullptr);
}

}  // namespace

int main(int argc, char **argv) {
    const char *env = std::getenv("AEP_EDGE_BASE_URL");
    if (argc > 1) {
        base_url = argv[1];
    } else if (env) {
        base_url = env;
    } else {
        std::fprintf(stderr, "usage: %s BASE_URL (or AEP_EDGE_BASE_URL)\n", argv[0]);
        return 2;
    }
    if (const char *s = std::getenv("AEP_EDGE_TEST_TIME_SCALE")) {
        if (std::atol(s) > 0) scale = std::atol(s);
    }
    CHECK(control("POST", "/__emulator/reset").find("\"ok\":true") != std::string::npos,
          "emulator reachable and reset", nullptr);
    test_versions();
    test_success();
    test_errors();
    test_threads();
    test_close_in_flight();
    test_log_callback();
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
