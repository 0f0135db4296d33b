// A kiosk: one page view per visitor, the personalization decisions it gets,
// the display notification for what it showed, and a fresh session for the
// next visitor. The "UI loop" never waits on the network: every call is async
// with its completion polled once per frame; shutdown is a bounded close.
//
//   kiosk BASE_URL [DATASTREAM_ID] [VISITORS]
//
// BASE_URL is the emulator (scripts/demo.sh starts one) or any Edge-compatible
// origin. Exit status 0 when every visitor was served.
#include <aep_edge.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
constexpr auto kFrame = 16ms;  // ~60 frames a second
constexpr int kMaxFramesPerCall = 60 * 30;  // a call that takes 30 s is abandoned

// The raw JSON value (object, array, string, number) starting at `at`, found by
// balancing brackets outside strings. The kiosk reads only the library's compact
// output, so this is enough; an application would use its JSON library.
std::string_view value_at(std::string_view json, std::size_t at) {
    if (at >= json.size()) return {};
    std::size_t i = at;
    int depth = 0;
    bool in_string = false;
    for (; i < json.size(); ++i) {
        char c = json[i];
        if (in_string) {
            if (c == '\\') ++i;
            else if (c == '"') {
                in_string = false;
                if (depth == 0) return json.substr(at, i + 1 - at);
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            ++depth;
        } else if (c == '}' || c == ']') {
            if (--depth == 0) return json.substr(at, i + 1 - at);
            if (depth < 0) return json.substr(at, i - at);
        } else if (depth == 0 && c == ',') {
            return json.substr(at, i - at);
        }
    }
    return json.substr(at);
}

// The value of the first `"key":` at or after `from`, or "".
std::string_view member(std::string_view json, std::string_view key, std::size_t from = 0) {
    std::string needle = "\"" + std::string(key) + "\":";
    std::size_t at = json.find(needle, from);
    return at == std::string_view::npos ? std::string_view() : value_at(json, at + needle.size());
}

// The elements of a JSON array's raw text.
std::vector<std::string_view> elements(std::string_view array) {
    std::vector<std::string_view> out;
    if (array.size() < 2 || array.front() != '[') return out;
    std::size_t i = 1;
    while (i < array.size() - 1) {
        if (array[i] == ',' || array[i] == ' ') {
            ++i;
            continue;
        }
        std::string_view v = value_at(array, i);
        if (v.empty()) break;
        out.push_back(v);
        i += v.size();
    }
    return out;
}

struct Proposition {
    std::string id, scope;
    std::string json;  // the whole proposition, as the Edge Network sent it
};

// The propositions of the personalization:decisions handles of a result.
std::vector<Proposition> propositions(std::string_view result) {
    std::vector<Proposition> out;
    for (std::string_view handle : elements(member(result, "handle"))) {
        if (member(handle, "type") != "\"personalization:decisions\"") continue;
        for (std::string_view p : elements(member(handle, "payload"))) {
            auto unquote = [](std::string_view s) {
                return s.size() >= 2 ? std::string(s.substr(1, s.size() - 2)) : std::string(s);
            };
            out.push_back({unquote(member(p, "id")), unquote(member(p, "scope")), std::string(p)});
        }
    }
    return out;
}

std::string page_view(int visitor) {
    return R"({"event":{"xdm":{"eventType":"web.webpagedetails.pageViews","web":{"webPageDetails":{"URL":"https://kiosk.example/welcome","name":"kiosk-welcome"}},"device":{"type":"kiosk"}},"data":{"visitor":)" +
           std::to_string(visitor) +
           R"(}},"query":{"personalization":{"decisionScopes":["kiosk-hero","kiosk-footer"]}}})";
}

// The decisioning.propositionDisplay event for what the screen showed, made by
// the library (aep_edge_proposition_event) from the propositions as received.
std::string display_event(const std::vector<Proposition> &shown) {
    std::string list;
    for (const Proposition &p : shown) list += (list.empty() ? "" : ",") + p.json;
    return aep_edge::proposition_event(R"({"kind":"display","propositions":[)" + list + "]}");
}

}  // namespace

int main(int argc, char **argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: kiosk BASE_URL [DATASTREAM_ID] [VISITORS]\n");
        return 64;
    }
    const std::string datastream = argc > 2 ? argv[2] : "kiosk-datastream";
    const int visitors = argc > 3 ? std::atoi(argv[3]) : 3;

    try {
        aep_edge::Client client(R"({"datastreamId":")" + datastream + R"(","baseUrl":")" + argv[1] +
                                R"(","timeouts":{"totalMs":10000}})");

        enum class Step { Start, AwaitPage, AwaitDisplay, Done } step = Step::Start;
        int visitor = 1, served = 0, frames = 0, frames_waiting = 0;
        uint64_t pending = 0;

        // The UI loop: one poll(0) per frame; rendering stands in as a frame count.
        while (step != Step::Done) {
            ++frames;
            ++frames_waiting;
            if (step == Step::Start) {
                std::printf("visitor %d: page view\n", visitor);
                pending = client.interact_async(page_view(visitor), aep_edge::by_poll);
                step = Step::AwaitPage;
                frames_waiting = 0;
            } else if (auto done = client.poll(0ms)) {
                if (done->call_id != pending) continue;  // not ours (none here)
                bool next_visitor = true;
                if (!done->result) {
                    const aep_edge::Error &e = done->result.error();
                    std::printf("visitor %d: call failed: %s (%s %s)\n", visitor, e.what(), e.kind().c_str(),
                                e.code().c_str());
                } else if (step == Step::AwaitPage) {
                    std::vector<Proposition> shown = propositions(*done->result);
                    std::printf("visitor %d: %zu decisions after %d frames\n", visitor, shown.size(), frames_waiting);
                    for (const Proposition &p : shown) std::printf("  %s -> %s\n", p.scope.c_str(), p.id.c_str());
                    if (!shown.empty()) {
                        pending = client.interact_async(display_event(shown), aep_edge::by_poll);
                        step = Step::AwaitDisplay;
                        frames_waiting = 0;
                        next_visitor = false;
                    }
                } else {
                    std::printf("visitor %d: display notification sent\n", visitor);
                    ++served;
                }
                if (next_visitor) {
                    client.reset_session();  // the next visitor is someone else
                    step = ++visitor > visitors ? Step::Done : Step::Start;
                }
            } else if (frames_waiting > kMaxFramesPerCall) {
                std::printf("visitor %d: no answer, giving up\n", visitor);
                break;
            }
            std::this_thread::sleep_for(kFrame);
        }

        aep_edge::CloseReport report = client.close(2s);
        std::printf("served %d of %d visitors in %d frames; close %s (%ld in flight)\n", served, visitors, frames,
                    report.timed_out ? "timed out" : "finished", report.in_flight);
        return served == visitors ? 0 : 1;
    } catch (const aep_edge::Error &e) {
        std::fprintf(stderr, "kiosk: %s\n", e.what());
        return 1;
    }
}
