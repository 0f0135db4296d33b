package aepedge;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.ref.Cleaner;
import java.lang.ref.Reference;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A client of the Adobe Experience Platform Edge Network Server API over the
 * aep-edge C ABI, with the Foreign Function &amp; Memory API (Java 22+).
 *
 * <pre>{@code
 * try (EdgeClient client = new EdgeClient("{\"datastreamId\": \"YOUR_DATASTREAM_ID\"}")) {
 *     String result = client.interact("{\"event\": {\"xdm\": {}}}");
 *     client.interactAsync(request).thenAccept(System.out::println);
 * } catch (EdgeException e) {
 *     System.err.println(e.kind() + " " + e.httpStatus() + " " + e.code());
 * }
 * }</pre>
 *
 * JSON stays text. One client serves every thread. {@link #close()} finishes it;
 * a {@link Cleaner} frees a forgotten one, as a safety net only. The library is
 * loaded from the system property {@code aep_edge.library}, else the environment
 * variable AEP_EDGE_LIB, else as libaep_edge.so.1 from the loader's path. Run
 * with {@code --enable-native-access=ALL-UNNAMED}.
 */
public final class EdgeClient implements AutoCloseable {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIB = load();
    private static final Cleaner CLEANER = Cleaner.create();

    private static final MethodHandle VERSION = fn("aep_edge_version", FunctionDescriptor.of(ADDRESS));
    private static final MethodHandle ABI_VERSION = fn("aep_edge_abi_version", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle CLIENT_NEW =
            fn("aep_edge_client_new", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    private static final MethodHandle CLIENT_CLOSE =
            fn("aep_edge_client_close", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
    private static final MethodHandle CLIENT_FREE = fn("aep_edge_client_free", FunctionDescriptor.ofVoid(ADDRESS));
    private static final MethodHandle INTERACT = request("aep_edge_interact");
    private static final MethodHandle COLLECT = request("aep_edge_collect");
    private static final MethodHandle SET_CONSENT = request("aep_edge_set_consent");
    private static final MethodHandle SET_ACCESS_TOKEN = request("aep_edge_client_set_access_token");
    private static final MethodHandle SESSION_GET =
            fn("aep_edge_session_get", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle SESSION_RESET =
            fn("aep_edge_session_reset", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle STRING_FREE = fn("aep_edge_string_free", FunctionDescriptor.ofVoid(ADDRESS));
    private static final MethodHandle INTERACT_ASYNC = asyncCall("aep_edge_interact_async");
    private static final MethodHandle COLLECT_ASYNC = asyncCall("aep_edge_collect_async");
    private static final MethodHandle SET_CONSENT_ASYNC = asyncCall("aep_edge_set_consent_async");

    /** The one completion callback of every async call: user_data is the key of its Pending. */
    private static final MemorySegment COMPLETION = completionStub();
    private static final AtomicLong NEXT_KEY = new AtomicLong(1);
    private static final ConcurrentHashMap<Long, Pending> PENDING = new ConcurrentHashMap<>();

    private record Pending(EdgeClient client, CompletableFuture<String> future) {}

    /** Completes futures off the library's worker threads, and frees late; daemon threads. */
    private static final ExecutorService ASYNC = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "aep-edge-async");
        t.setDaemon(true);
        return t;
    });

    private static SymbolLookup load() {
        String path = System.getProperty("aep_edge.library", System.getenv("AEP_EDGE_LIB"));
        return path != null && !path.isEmpty()
                ? SymbolLookup.libraryLookup(Path.of(path), Arena.global())
                : SymbolLookup.libraryLookup("libaep_edge.so.1", Arena.global());
    }

    private static MethodHandle fn(String name, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(LIB.find(name).orElseThrow(() -> new UnsatisfiedLinkError(name)), descriptor);
    }

    private static MethodHandle asyncCall(String name) {
        return fn(name, FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
    }

    private static MemorySegment completionStub() {
        try {
            MethodHandle target = MethodHandles.lookup().findStatic(EdgeClient.class, "onCompletion",
                    MethodType.methodType(void.class, MemorySegment.class, long.class, int.class, MemorySegment.class));
            return LINKER.upcallStub(target, FunctionDescriptor.ofVoid(ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS),
                    Arena.global());
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    // Runs on a worker thread of the library; nothing may escape it (an
    // exception out of an upcall ends the JVM). The JSON is copied here, the
    // future is completed on ASYNC, so user continuations never run on the
    // library's threads.
    private static void onCompletion(MemorySegment userData, long callId, int status, MemorySegment resultJson) {
        try {
            Pending pending = PENDING.remove(userData.address());
            if (pending == null) return;
            String json = resultJson.equals(MemorySegment.NULL) ? "{}" : resultJson.reinterpret(Long.MAX_VALUE).getString(0);
            ASYNC.execute(() -> settle(pending.future(), status, json));
        } catch (Throwable t) {
            // Nothing may unwind into the library.
        }
    }

    private static void settle(CompletableFuture<String> future, int status, String json) {
        if (status == Status.OK) future.complete(json);
        else future.completeExceptionally(new EdgeException(status, json));
    }

    private static MethodHandle request(String name) {
        return fn(name, FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    }

    /** The handle, freed once: by close() or, for a forgotten client, by the cleaner. */
    private static final class Handle implements Runnable {
        final MemorySegment pointer;
        boolean freed;

        Handle(MemorySegment pointer) { this.pointer = pointer; }

        @Override
        public synchronized void run() {
            if (freed) return;
            freed = true;
            try {
                CLIENT_FREE.invokeExact(pointer);
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
        }
    }

    // Read-held by every call, write-held to free: the free never races a call.
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final Handle handle;
    private final Cleaner.Cleanable cleanable;
    private volatile boolean closed;

    /** Creates a client from its config JSON; throws EdgeException (kind "invalid_config") when refused. */
    public EdgeClient(String configJson) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            MemorySegment error = arena.allocate(ADDRESS);
            int status = (int) CLIENT_NEW.invokeExact(cString(arena, configJson), out, error);
            check(status, take(error));
            handle = new Handle(out.get(ADDRESS, 0));
        } catch (EdgeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        cleanable = CLEANER.register(this, handle);
    }

    /** POST /ee/v2/interact: the result JSON. */
    public String interact(String requestJson) { return call(INTERACT, requestJson); }
    /** POST /ee/v2/collect at once: the result JSON. */
    public String collect(String requestJson) { return call(COLLECT, requestJson); }
    /** POST /ee/v1/privacy/set-consent: the result JSON. */
    public String setConsent(String requestJson) { return call(SET_CONSENT, requestJson); }
    /** Replaces the static token of token auth. */
    public void setAccessToken(String token) { call(SET_ACCESS_TOKEN, token); }

    /**
     * interact on a worker thread of the library (aep_edge_interact_async):
     * returns at once. The future completes with the result JSON, or
     * exceptionally with EdgeException (at once for a refused request).
     */
    public CompletableFuture<String> interactAsync(String requestJson) { return start(INTERACT_ASYNC, requestJson); }
    public CompletableFuture<String> collectAsync(String requestJson) { return start(COLLECT_ASYNC, requestJson); }
    public CompletableFuture<String> setConsentAsync(String requestJson) { return start(SET_CONSENT_ASYNC, requestJson); }

    private CompletableFuture<String> start(MethodHandle fn, String requestJson) {
        CompletableFuture<String> future = new CompletableFuture<>();
        long key = NEXT_KEY.getAndIncrement();
        // Registered first: the completion may run before the call returns.
        PENDING.put(key, new Pending(this, future));
        try {
            invoke((arena, client, out) -> (int) fn.invokeExact(client, cString(arena, requestJson), COMPLETION,
                    MemorySegment.ofAddress(key), MemorySegment.NULL, out));
        } catch (EdgeException e) {
            // Refused: no completion follows.
            PENDING.remove(key);
            future.completeExceptionally(e);
        }
        return future;
    }

    /** The session view JSON (ECID, location hint, consent, state entries). */
    public String session() { return call(SESSION_GET); }
    /** Forgets the visitor (kiosk: the next one starts fresh). */
    public void resetSession() { call(SESSION_RESET); }

    /** What close saw: calls still in flight when the timeout passed. */
    public record CloseReport(int inFlight, boolean timedOut, String json) {}

    /**
     * Refuses new calls, stops retries, waits up to {@code timeout} for calls in
     * flight, then frees the client (after the last call using it returned, also
     * when that is past the timeout). May run while other threads are in calls;
     * returns within the timeout. Idempotent.
     */
    public CloseReport close(Duration timeout) {
        long ms = Math.max(0, Math.min(timeout.toMillis(), 0xFFFFFFFFL));
        int status;
        String report;
        lock.readLock().lock();
        try {
            if (closed) return new CloseReport(0, false, "{}");
            closed = true;
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment out = arena.allocate(ADDRESS);
                status = (int) CLIENT_CLOSE.invokeExact(handle.pointer, (int) ms, out);
                report = take(out);
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        } finally {
            lock.readLock().unlock();
        }
        if (status == Status.TIMEOUT) {
            // Calls still on the wire hold the read lock: free after them,
            // without holding close past its timeout.
            ASYNC.execute(this::free);
        } else {
            free();
        }
        if (status != Status.OK && status != Status.TIMEOUT) throw new EdgeException(status, report);
        String json = report == null ? "{}" : report;
        return new CloseReport(Math.max(0, Json.integer(json, "inFlight")), status == Status.TIMEOUT, json);
    }

    private void free() {
        lock.writeLock().lock();
        try {
            cleanable.clean();
        } finally {
            lock.writeLock().unlock();
        }
        // After the free no completion of this client runs: the calls it
        // dropped end closed, so no future waits forever.
        PENDING.forEach((key, pending) -> {
            if (pending.client() == this && PENDING.remove(key, pending)) {
                settle(pending.future(), Status.CLOSED,
                        "{\"error\":{\"kind\":\"closed\",\"message\":\"the client was freed before this call completed\"}}");
            }
        });
    }

    /** close with a 5 second timeout. */
    @Override
    public void close() { close(Duration.ofSeconds(5)); }

    public static String version() {
        try {
            return ((MemorySegment) VERSION.invokeExact()).reinterpret(256).getString(0);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    public static int abiVersion() {
        try {
            return (int) ABI_VERSION.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** A C call writing one out string: returns its status. */
    private interface Body {
        int apply(Arena arena, MemorySegment client, MemorySegment out) throws Throwable;
    }

    // f(client, input, out) -> the out string, or EdgeException.
    private String call(MethodHandle fn, String input) {
        return invoke((arena, client, out) -> (int) fn.invokeExact(client, cString(arena, input), out));
    }

    // f(client, out) -> the out string, or EdgeException.
    private String call(MethodHandle fn) {
        return invoke((arena, client, out) -> (int) fn.invokeExact(client, out));
    }

    private String invoke(Body body) {
        lock.readLock().lock();
        try (Arena arena = Arena.ofConfined()) {
            if (closed) {
                throw new EdgeException(Status.CLOSED, "{\"error\":{\"kind\":\"closed\",\"message\":\"the client was closed\"}}");
            }
            MemorySegment out = arena.allocate(ADDRESS);
            int status = body.apply(arena, handle.pointer, out);
            return check(status, take(out));
        } catch (EdgeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        } finally {
            lock.readLock().unlock();
            // The cleaner must not see this client unreachable while its handle is in use.
            Reference.reachabilityFence(this);
        }
    }

    private static MemorySegment cString(Arena arena, String s) {
        return s == null ? MemorySegment.NULL : arena.allocateFrom(s);
    }

    /** The one place a status becomes a Java exception. */
    private static String check(int status, String json) {
        if (status != Status.OK) throw new EdgeException(status, json);
        return json;
    }

    /** Copies and frees a string the library wrote to an out pointer. */
    private static String take(MemorySegment out) throws Throwable {
        MemorySegment s = out.get(ADDRESS, 0);
        if (s.equals(MemorySegment.NULL)) return null;
        try {
            return s.reinterpret(Long.MAX_VALUE).getString(0);
        } finally {
            STRING_FREE.invokeExact(s);
        }
    }
}
