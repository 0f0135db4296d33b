// aep_edge.hpp: a header-only C++17 wrapper over the aep-edge C ABI.
//
// RAII handles (move-only, released with the library's own functions), errors
// that carry the status, kind, HTTP status and EXEG code, and a log callback
// that takes a lambda. JSON stays text: pass and receive strings and use the
// JSON library of your choice.
//
//   try {
//       aep_edge::Client client(R"({"datastreamId": "YOUR_DATASTREAM_ID"})");
//       std::string result = client.interact(R"({"event": {"xdm": {}}})");
//   } catch (const aep_edge::Error &e) { ... }
//
// Engines built with -fno-exceptions define AEP_EDGE_NO_EXCEPTIONS before
// including this header (the same way in every translation unit of a program):
// then every call returns a Result<T> (ok(), value(), error()) and clients are
// made with Client::create(config), which exists in both modes.
//
//   auto client = aep_edge::Client::create(config);
//   if (!client) { log(client.error().what()); return; }
//   auto result = client->interact(request);
//   if (result) use(*result); else log(result.error().code());
//
// Threading: a Client may be used from many threads at once; moving or
// destroying it must not race with calls on it (as aep_edge_client_free).
#ifndef AEP_EDGE_HPP
#define AEP_EDGE_HPP

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>

#include "aep_edge.h"

#if defined(AEP_EDGE_NO_EXCEPTIONS) || !(defined(__cpp_exceptions) || defined(__EXCEPTIONS) || defined(_CPPUNWIND))
#define AEP_EDGE_HAS_EXCEPTIONS 0
#else
#define AEP_EDGE_HAS_EXCEPTIONS 1
#endif

namespace aep_edge {

namespace detail {

struct StringDeleter {
    void operator()(char *s) const noexcept { aep_edge_string_free(s); }
};
/// A string returned by the library, released with aep_edge_string_free.
using OwnedString = std::unique_ptr<char, StringDeleter>;

struct ClientDeleter {
    void operator()(aep_edge_client *c) const noexcept { aep_edge_client_free(c); }
};

inline std::string take(char *s) {
    OwnedString owned(s);
    return owned ? std::string(owned.get()) : std::string();
}

/// The value of a string field `"key":"..."` in compact JSON made by the
/// library (no spaces), unescaped; empty when absent or not a string.
inline std::string string_field(std::string_view json, std::string_view key) {
    std::string needle = "\"" + std::string(key) + "\":\"";
    std::size_t at = json.find(needle);
    if (at == std::string_view::npos) return {};
    std::string out;
    for (std::size_t i = at + needle.size(); i < json.size(); ++i) {
        char c = json[i];
        if (c == '"') return out;
        if (c == '\\' && i + 1 < json.size()) {
            char e = json[++i];
            switch (e) {
                case 'n': out += '\n'; break;
                case 't': out += '\t'; break;
                case 'r': out += '\r'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'u': out += '?'; i += 4; break;  // rare in messages; keep it simple
                default: out += e; break;
            }
        } else {
            out += c;
        }
    }
    return {};
}

/// The value of an integer field `"key":123`; -1 when absent or null.
inline long int_field(std::string_view json, std::string_view key) {
    std::string needle = "\"" + std::string(key) + "\":";
    std::size_t at = json.find(needle);
    if (at == std::string_view::npos) return -1;
    std::size_t i = at + needle.size();
    if (i >= json.size() || json[i] < '0' || json[i] > '9') return -1;
    long value = 0;
    for (; i < json.size() && json[i] >= '0' && json[i] <= '9'; ++i) value = value * 10 + (json[i] - '0');
    return value;
}

}  // namespace detail

/// A failed call: the status, and the error object's facts.
class Error : public std::runtime_error {
public:
    Error(aep_edge_status status, std::string json)
        : std::runtime_error(describe(status, json)), status_(status), json_(std::move(json)) {}

    aep_edge_status status() const noexcept { return status_; }
    /// "http", "transport", "timeout", "auth", "invalid_request", ...
    std::string kind() const { return detail::string_field(json_, "kind"); }
    /// The HTTP status of the Edge Network's answer, or -1.
    long http_status() const { return detail::int_field(json_, "httpStatus"); }
    /// The EXEG code, e.g. "EXEG-0003-400", or "".
    std::string code() const { return detail::string_field(json_, "code"); }
    /// The whole error object, `{"error": {...}}`.
    const std::string &json() const noexcept { return json_; }

private:
    static std::string describe(aep_edge_status status, const std::string &json) {
        std::string message = detail::string_field(json, "message");
        return "aep-edge status " + std::to_string(static_cast<uint32_t>(status)) + ": " +
               (message.empty() ? json : message);
    }

    aep_edge_status status_;
    std::string json_;
};

/// The outcome of a call: a value, or the Error. Never throws, except value()
/// on an error (it throws the Error, or aborts without exceptions: check first).
template <typename T>
class Result {
public:
    Result(T value) : value_(std::move(value)) {}
    Result(Error error) : error_(std::move(error)) {}

    bool ok() const noexcept { return value_.has_value(); }
    explicit operator bool() const noexcept { return ok(); }
    /// AEP_EDGE_OK, or the error's status.
    aep_edge_status status() const noexcept { return ok() ? AEP_EDGE_OK : error_->status(); }

    T &value() & { return ensure(), *value_; }
    const T &value() const & { return ensure(), *value_; }
    T &&value() && { return ensure(), std::move(*value_); }
    T &operator*() & { return value(); }
    const T &operator*() const & { return value(); }
    T *operator->() { return &value(); }
    const T *operator->() const { return &value(); }

    /// The error; only on a failed result.
    const Error &error() const {
        if (!error_) std::abort();
        return *error_;
    }

private:
    void ensure() const {
        if (value_) return;
#if AEP_EDGE_HAS_EXCEPTIONS
        throw *error_;
#else
        std::abort();
#endif
    }

    std::optional<T> value_;
    std::optional<Error> error_;
};

/// A call with no value: ok(), or the Error.
template <>
class Result<void> {
public:
    Result() = default;
    Result(Error error) : error_(std::move(error)) {}

    bool ok() const noexcept { return !error_.has_value(); }
    explicit operator bool() const noexcept { return ok(); }
    aep_edge_status status() const noexcept { return ok() ? AEP_EDGE_OK : error_->status(); }
    const Error &error() const {
        if (!error_) std::abort();
        return *error_;
    }

private:
    std::optional<Error> error_;
};

/// What the calls return: T (throwing Error) with exceptions, Result<T> without.
#if AEP_EDGE_HAS_EXCEPTIONS
template <typename T>
using Returns = T;
#else
template <typename T>
using Returns = Result<T>;
#endif

namespace detail {

/// A status and its out string as a Result: the string on OK, else the Error.
inline Result<std::string> result(aep_edge_status status, char *out) {
    std::string json = take(out);
    if (status != AEP_EDGE_OK) return Error(status, json.empty() ? "{}" : std::move(json));
    return json;
}
inline Result<void> result_void(aep_edge_status status, char *error_json) {
    std::string json = take(error_json);
    if (status != AEP_EDGE_OK) return Error(status, json.empty() ? "{}" : std::move(json));
    return {};
}

/// Turns a Result into what the calls return (throws with exceptions).
template <typename T>
Returns<T> finish(Result<T> &&r) {
#if AEP_EDGE_HAS_EXCEPTIONS
    return std::move(r).value();
#else
    return std::move(r);
#endif
}
inline Returns<void> finish(Result<void> &&r) {
#if AEP_EDGE_HAS_EXCEPTIONS
    if (!r) throw r.error();
#else
    return std::move(r);
#endif
}

}  // namespace detail

/// What close() saw: calls still in flight (0 unless it timed out).
struct CloseReport {
    long in_flight;
    long waited_ms;
    bool timed_out;
};

/// A finished async call that poll() handed out.
struct Completion {
    uint64_t call_id;
    Result<std::string> result;  ///< the result JSON, or the Error
};

/// Tag for the async calls whose completion waits in the client for poll().
struct ByPoll {};
inline constexpr ByPoll by_poll{};

/// What an async call's callback receives, on a worker thread of the client.
using CompletionCallback = std::function<void(Result<std::string>)>;

namespace detail {

struct AsyncCalls;
/// One accepted async call with a callback: the user_data the library holds.
struct AsyncCall {
    AsyncCalls *owner;
    CompletionCallback done;
};

/// The callbacks a client's calls still owe. The library runs each once, except
/// for calls dropped by aep_edge_client_free: those the wrapper ends with
/// AEP_EDGE_CLOSED after the free, so no future waits forever and nothing leaks.
struct AsyncCalls {
    std::mutex mutex;
    std::unordered_set<AsyncCall *> pending;

    void add(AsyncCall *call) {
        std::lock_guard<std::mutex> lock(mutex);
        pending.insert(call);
    }
    /// False when fail_all already took it.
    bool remove(AsyncCall *call) {
        std::lock_guard<std::mutex> lock(mutex);
        return pending.erase(call) == 1;
    }
    /// After aep_edge_client_free: no callback of the client runs any more.
    void fail_all() {
        std::unordered_set<AsyncCall *> left;
        {
            std::lock_guard<std::mutex> lock(mutex);
            left.swap(pending);
        }
        for (AsyncCall *call : left) {
            run(call, AEP_EDGE_CLOSED,
                R"({"error":{"kind":"closed","status":12,"message":"the client was freed before this call completed","httpStatus":null,"code":null,"problem":null,"retryable":false,"retryAfterMs":null,"attempts":0,"requestId":null}})");
        }
    }
    static void run(AsyncCall *call, aep_edge_status status, const char *json) {
        std::unique_ptr<AsyncCall> owned(call);
        Result<std::string> result = status == AEP_EDGE_OK ? Result<std::string>(std::string(json ? json : "{}"))
                                                           : Result<std::string>(Error(status, json ? json : "{}"));
#if AEP_EDGE_HAS_EXCEPTIONS
        try {
            owned->done(std::move(result));
        } catch (...) {
            // Nothing may unwind into the library.
        }
#else
        owned->done(std::move(result));
#endif
    }
};

inline void completion_trampoline(void *user_data, uint64_t, aep_edge_status status, const char *result_json) {
    auto *call = static_cast<AsyncCall *>(user_data);
    if (call->owner->remove(call)) AsyncCalls::run(call, status, result_json);
}

/// The unsigned integer of `"key":123`, or 0.
inline uint64_t u64_field(std::string_view json, std::string_view key) {
    std::string needle = "\"" + std::string(key) + "\":";
    std::size_t at = json.find(needle);
    if (at == std::string_view::npos) return 0;
    uint64_t value = 0;
    for (std::size_t i = at + needle.size(); i < json.size() && json[i] >= '0' && json[i] <= '9'; ++i)
        value = value * 10 + static_cast<uint64_t>(json[i] - '0');
    return value;
}

}  // namespace detail

/// What flush() saw: the queue's stats JSON (as aep_edge_stats), and whether
/// its deadline came before the queue emptied.
struct FlushReport {
    bool timed_out;
    std::string stats;
};

/// One Edge Network client. Create it once and share it between threads.
class Client {
public:
    using LogCallback = std::function<void(uint32_t level, std::string_view message)>;
    /// Receives {"eventId", "outcome": "delivered" | "rejected", "error"?, "attempts"}.
    using OutcomeCallback = std::function<void(std::string_view outcome_json)>;

    /// Makes a client, or returns the Error (e.g. AEP_EDGE_INVALID_CONFIG); never throws.
    static Result<Client> create(const std::string &config_json) {
        aep_edge_client *raw = nullptr;
        char *error = nullptr;
        aep_edge_status status = aep_edge_client_new(config_json.c_str(), &raw, &error);
        Result<void> made = detail::result_void(status, error);
        if (!made) return made.error();
        return Client(raw);
    }

#if AEP_EDGE_HAS_EXCEPTIONS
    /// Throws Error (e.g. AEP_EDGE_INVALID_CONFIG) when the config is refused.
    explicit Client(const std::string &config_json) : Client(create(config_json).value()) {}
#endif

    Client(Client &&) noexcept = default;
    /// Frees the current client before its callbacks, so none can reach them.
    Client &operator=(Client &&other) noexcept {
        if (this != &other) {
            release();
            handle_ = std::move(other.handle_);
            log_ = std::move(other.log_);
            outcome_ = std::move(other.outcome_);
            async_ = std::move(other.async_);
        }
        return *this;
    }
    Client(const Client &) = delete;
    Client &operator=(const Client &) = delete;

    /// Frees the handle (no network I/O; close() first to let calls finish),
    /// then ends the async calls the free dropped with AEP_EDGE_CLOSED.
    ~Client() { release(); }

    /// POST /ee/v2/interact: the result JSON.
    Returns<std::string> interact(const std::string &request_json) const {
        return detail::finish(call(aep_edge_interact, request_json));
    }
    /// POST /ee/v2/collect at once: the result JSON.
    Returns<std::string> collect(const std::string &request_json) const {
        return detail::finish(call(aep_edge_collect, request_json));
    }
    /// POST /ee/v1/privacy/set-consent: the result JSON.
    Returns<std::string> set_consent(const std::string &request_json) const {
        return detail::finish(call(aep_edge_set_consent, request_json));
    }
    /// The session view JSON (ECID, location hint, consent, state entries).
    Returns<std::string> session() const {
        char *out = nullptr;
        aep_edge_status status = aep_edge_session_get(get(), &out);
        return detail::finish(detail::result(status, out));
    }
    /// Forgets the visitor (kiosk: the next one starts fresh).
    Returns<void> reset_session() const {
        char *error = nullptr;
        aep_edge_status status = aep_edge_session_reset(get(), &error);
        return detail::finish(detail::result_void(status, error));
    }
    /// Replaces the static token of token auth.
    Returns<void> set_access_token(const std::string &token) const {
        char *error = nullptr;
        aep_edge_status status = aep_edge_client_set_access_token(get(), token.c_str(), &error);
        return detail::finish(detail::result_void(status, error));
    }

#if AEP_EDGE_HAS_EXCEPTIONS
    /// The future of one call: the result JSON, or the Error from get().
    using Future = std::future<std::string>;
#else
    /// The future of one call: a Result from get().
    using Future = std::future<Result<std::string>>;
#endif

    /// interact on a worker thread of the client: returns at once. A request
    /// the blocking call would refuse gives a future that is ready with the Error.
    Future interact_async(const std::string &request_json) const {
        return start_future(aep_edge_interact_async, request_json);
    }
    Future collect_async(const std::string &request_json) const {
        return start_future(aep_edge_collect_async, request_json);
    }
    Future set_consent_async(const std::string &request_json) const {
        return start_future(aep_edge_set_consent_async, request_json);
    }

    /// interact with a callback, which runs once on a worker thread (it must
    /// not destroy this Client). Returns the call id, or the Error of a refused
    /// request (then the callback never runs).
    Returns<uint64_t> interact_async(const std::string &request_json, CompletionCallback callback) const {
        return detail::finish(start_callback(aep_edge_interact_async, request_json, std::move(callback)));
    }
    Returns<uint64_t> collect_async(const std::string &request_json, CompletionCallback callback) const {
        return detail::finish(start_callback(aep_edge_collect_async, request_json, std::move(callback)));
    }
    Returns<uint64_t> set_consent_async(const std::string &request_json, CompletionCallback callback) const {
        return detail::finish(start_callback(aep_edge_set_consent_async, request_json, std::move(callback)));
    }

    /// interact whose completion waits in the client until poll() hands it out
    /// on the caller's thread (a game or UI loop). Returns the call id.
    Returns<uint64_t> interact_async(const std::string &request_json, ByPoll) const {
        return detail::finish(start_polled(aep_edge_interact_async, request_json));
    }
    Returns<uint64_t> collect_async(const std::string &request_json, ByPoll) const {
        return detail::finish(start_polled(aep_edge_collect_async, request_json));
    }
    Returns<uint64_t> set_consent_async(const std::string &request_json, ByPoll) const {
        return detail::finish(start_polled(aep_edge_set_consent_async, request_json));
    }

    /// The oldest finished by_poll call, waiting up to `timeout` (0: a look, for
    /// once per frame); std::nullopt when none finished in time.
    Returns<std::optional<Completion>> poll(std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) const {
        using Polled = std::optional<Completion>;
        char *out = nullptr;
        aep_edge_status status = aep_edge_poll(get(), clamp_ms(timeout), &out);
        std::string json = detail::take(out);
        if (status == AEP_EDGE_NOT_READY) return detail::finish(Result<Polled>(Polled()));
        if (status != AEP_EDGE_OK) return detail::finish(Result<Polled>(Error(status, std::move(json))));
        // {"callId":N,"status":S,"result":{...}}: the result is the last member.
        aep_edge_status call_status = static_cast<aep_edge_status>(detail::int_field(json, "status"));
        std::size_t at = json.find("\"result\":");
        std::string result =
            at == std::string::npos ? "{}" : json.substr(at + 9, json.size() - (at + 9) - 1);
        Completion done{detail::u64_field(json, "callId"),
                        call_status == AEP_EDGE_OK ? Result<std::string>(std::move(result))
                                                   : Result<std::string>(Error(call_status, std::move(result)))};
        return detail::finish(Result<Polled>(Polled(std::move(done))));
    }

    /// Fire and forget: stores one event ({"event": {...}, "meta"?, "options"?})
    /// for the dispatcher to deliver and returns at once with {"eventId", "queued"}.
    /// Never does network I/O.
    Returns<std::string> send_event(const std::string &request_json) const {
        return detail::finish(call(aep_edge_send_event, request_json));
    }
    /// Sends what is queued now and waits up to `timeout` for the queue to empty.
    /// The deadline passing first is not an error: the report says so.
    Returns<FlushReport> flush(std::chrono::milliseconds timeout) const {
        char *out = nullptr;
        aep_edge_status status = aep_edge_flush(get(), clamp_ms(timeout), &out);
        std::string json = detail::take(out);
        if (status != AEP_EDGE_OK && status != AEP_EDGE_TIMEOUT)
            return detail::finish(Result<FlushReport>(Error(status, std::move(json))));
        return detail::finish(Result<FlushReport>(FlushReport{status == AEP_EDGE_TIMEOUT, std::move(json)}));
    }
    /// The queue's counters JSON (queued, inFlight, delivered, rejected, retries, batches, oldestAgeMs, bytes).
    Returns<std::string> stats() const {
        char *out = nullptr;
        aep_edge_status status = aep_edge_stats(get(), &out);
        return detail::finish(detail::result(status, out));
    }
    /// Installs the outcome callback (an empty one removes it); it runs on the
    /// dispatcher thread, once per queued event; exceptions it throws are swallowed.
    Returns<void> set_outcome_callback(OutcomeCallback callback) {
        auto next = callback ? std::make_unique<OutcomeCallback>(std::move(callback)) : nullptr;
        aep_edge_status status = aep_edge_set_outcome_callback(
            get(), next ? &Client::outcome_trampoline : nullptr, next.get());
        if (status != AEP_EDGE_OK) return detail::finish(Result<void>(Error(status, "{}")));
        // The library no longer calls the previous one: it can go.
        outcome_ = std::move(next);
        return detail::finish(Result<void>());
    }

    /// Refuses new calls, stops retries, waits up to `timeout` for calls in
    /// flight. Running past the timeout is not an error: the report says so.
    Returns<CloseReport> close(std::chrono::milliseconds timeout = std::chrono::seconds(5)) const {
        char *report = nullptr;
        aep_edge_status status = aep_edge_client_close(get(), clamp_ms(timeout), &report);
        std::string json = detail::take(report);
        if (status != AEP_EDGE_OK && status != AEP_EDGE_TIMEOUT)
            return detail::finish(Result<CloseReport>(Error(status, std::move(json))));
        return detail::finish(Result<CloseReport>(CloseReport{detail::int_field(json, "inFlight"),
                                                              detail::int_field(json, "waitedMs"),
                                                              status == AEP_EDGE_TIMEOUT}));
    }

    /// Installs a log callback (an empty one removes it). It runs on whichever
    /// thread logs; exceptions it throws are swallowed at the boundary.
    Returns<void> set_log_callback(uint32_t min_level, LogCallback callback) {
        auto next = callback ? std::make_unique<LogCallback>(std::move(callback)) : nullptr;
        aep_edge_status status = aep_edge_set_log_callback(
            get(), min_level, next ? &Client::trampoline : nullptr, next.get());
        if (status != AEP_EDGE_OK) return detail::finish(Result<void>(Error(status, "{}")));
        // The library no longer calls the previous one: it can go.
        log_ = std::move(next);
        return detail::finish(Result<void>());
    }

    /// The C handle, for functions this wrapper does not cover.
    aep_edge_client *get() const noexcept { return handle_.get(); }

    static std::string version() { return aep_edge_version(); }

private:
    using Call = aep_edge_status (*)(const aep_edge_client *, const char *, char **);
    using AsyncFn = aep_edge_status (*)(const aep_edge_client *, const char *, aep_edge_completion_fn, void *,
                                        uint64_t *, char **);

    explicit Client(aep_edge_client *raw) : async_(std::make_unique<detail::AsyncCalls>()), handle_(raw) {}

    void release() noexcept {
        handle_.reset();
        if (async_) async_->fail_all();
    }

    static uint32_t clamp_ms(std::chrono::milliseconds timeout) {
        auto ms = timeout.count() < 0 ? 0 : timeout.count();
        return static_cast<uint32_t>(ms > 0xFFFFFFFF ? 0xFFFFFFFF : ms);
    }

    Result<uint64_t> start_callback(AsyncFn fn, const std::string &request_json, CompletionCallback callback) const {
        if (!async_) return Error(AEP_EDGE_NULL_ARGUMENT, R"({"error":{"kind":"null_argument","status":1,"message":"this aep_edge::Client was moved from"}})");
        auto *call = new detail::AsyncCall{async_.get(), std::move(callback)};
        // Registered before the library may run it (on a worker, at once).
        async_->add(call);
        uint64_t id = 0;
        char *error = nullptr;
        aep_edge_status status =
            fn(get(), request_json.c_str(), &detail::completion_trampoline, call, &id, &error);
        if (status != AEP_EDGE_OK) {
            // Refused: no completion follows.
            if (async_->remove(call)) delete call;
            return Error(status, detail::take(error));
        }
        detail::take(error);
        return id;
    }

    Result<uint64_t> start_polled(AsyncFn fn, const std::string &request_json) const {
        uint64_t id = 0;
        char *error = nullptr;
        aep_edge_status status = fn(get(), request_json.c_str(), nullptr, nullptr, &id, &error);
        std::string json = detail::take(error);
        if (status != AEP_EDGE_OK) return Error(status, std::move(json));
        return id;
    }

    Future start_future(AsyncFn fn, const std::string &request_json) const {
#if AEP_EDGE_HAS_EXCEPTIONS
        auto promise = std::make_shared<std::promise<std::string>>();
        auto settle = [promise](Result<std::string> r) {
            if (r) promise->set_value(std::move(r).value());
            else promise->set_exception(std::make_exception_ptr(r.error()));
        };
#else
        auto promise = std::make_shared<std::promise<Result<std::string>>>();
        auto settle = [promise](Result<std::string> r) { promise->set_value(std::move(r)); };
#endif
        Future future = promise->get_future();
        Result<uint64_t> started = start_callback(fn, request_json, settle);
        if (!started) settle(started.error());
        return future;
    }

    Result<std::string> call(Call fn, const std::string &request_json) const {
        char *out = nullptr;
        aep_edge_status status = fn(get(), request_json.c_str(), &out);
        return detail::result(status, out);
    }

    static void outcome_trampoline(void *user_data, const char *outcome_json) {
#if AEP_EDGE_HAS_EXCEPTIONS
        try {
            (*static_cast<OutcomeCallback *>(user_data))(outcome_json);
        } catch (...) {
            // Nothing may unwind into the library.
        }
#else
        (*static_cast<OutcomeCallback *>(user_data))(outcome_json);
#endif
    }

    static void trampoline(void *user_data, uint32_t level, const char *message) {
#if AEP_EDGE_HAS_EXCEPTIONS
        try {
            (*static_cast<LogCallback *>(user_data))(level, message);
        } catch (...) {
            // Nothing may unwind into the library.
        }
#else
        (*static_cast<LogCallback *>(user_data))(level, message);
#endif
    }

    // Declared before handle_ so they are destroyed after it.
    std::unique_ptr<LogCallback> log_;
    std::unique_ptr<OutcomeCallback> outcome_;
    std::unique_ptr<detail::AsyncCalls> async_;
    std::unique_ptr<aep_edge_client, detail::ClientDeleter> handle_;
};

/// The event that reports propositions of a personalization:decisions handle
/// as shown or clicked (aep_edge_proposition_event), ready for interact,
/// collect's events or send_event. Input: {"kind": "display" | "interact",
/// "propositions": [...], "label"?, "tokens"?}. No client, no I/O.
inline Returns<std::string> proposition_event(const std::string &request_json) {
    char *out = nullptr;
    aep_edge_status status = aep_edge_proposition_event(request_json.c_str(), &out);
    return detail::finish(detail::result(status, out));
}

}  // namespace aep_edge

#endif  // AEP_EDGE_HPP
