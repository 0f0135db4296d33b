// The C++ side of the consumer test: the installed wrapper (aep_edge.hpp) over
// the installed library sends the source document's event and reads an HTTP 400.
//
//   consumer_cpp BASE_URL      (the emulator runs with --datastream consumer-ds)
#include <aep_edge.hpp>

#include <cstdio>
#include <string>

static const char *EVENT =
    R"({"event":{"xdm":{"identityMap":{"Email_LC_SHA256":[{"id":"0c7e6a405862e402eb76a70f8a26fc732d07c32931e9fae9ab1582911d2e8a3b","primary":true}]},"eventType":"web.webpagedetails.pageViews","web":{"webPageDetails":{"URL":"https://alloystore.dev/","name":"home-demo-Home Page"}},"timestamp":"2021-08-09T14:09:20.859Z"},"data":{"prop1":"custom value"}}})";

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: consumer_cpp BASE_URL\n");
        return 2;
    }
    const std::string base = argv[1];
    int passed = 0, failed = 0;
    auto check = [&](bool ok, const char *what) {
        ok ? ++passed : ++failed;
        if (!ok) std::fprintf(stderr, "FAIL: %s\n", what);
    };
    try {
        aep_edge::Client client(R"({"datastreamId":"consumer-ds","baseUrl":")" + base + R"("})");
        std::string result = client.interact(EVENT);
        check(result.find("\"httpStatus\":200") != std::string::npos, "interact answered 200");
        check(result.find("\"type\":\"state:store\"") != std::string::npos, "a state:store handle");
        check(!client.close().timed_out, "close in time");
    } catch (const aep_edge::Error &e) {
        check(false, e.what());
    }
    try {
        aep_edge::Client client(R"({"datastreamId":"no-such-datastream","baseUrl":")" + base + R"("})");
        client.interact(EVENT);
        check(false, "an unknown datastream is an error");
    } catch (const aep_edge::Error &e) {
        check(e.status() == AEP_EDGE_HTTP_ERROR && e.http_status() == 400, "HTTP 400");
        check(e.code() == "EXEG-0003-400", "EXEG-0003-400");
    }
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
