package aepedge;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Supplier;

/** The Java binding against the emulator (AEP_EDGE_BASE_URL, --datastream known-ds). */
public final class EdgeClientTest {
    static final String EVENT = "{\"event\":{\"xdm\":{\"identityMap\":{\"Email_LC_SHA256\":[{\"id\":\"0c7e6a405862e402eb76a70f8a26fc732d07c32931e9fae9ab1582911d2e8a3b\",\"primary\":true}]},\"eventType\":\"web.webpagedetails.pageViews\",\"web\":{\"webPageDetails\":{\"URL\":\"https://alloystore.dev/\",\"name\":\"home-demo-Home Page\"}},\"timestamp\":\"2021-08-09T14:09:20.859Z\"},\"data\":{\"prop1\":\"custom value\"}}}";
    static int passed, failed;

    static void check(boolean ok, String what) {
        if (ok) {
            passed++;
        } else {
            failed++;
            System.err.println("FAIL: " + what);
        }
    }

    static EdgeException raises(Runnable r) {
        try {
            r.run();
        } catch (EdgeException e) {
            return e;
        } catch (CompletionException e) {
            if (e.getCause() instanceof EdgeException edge) return edge;
            throw e;
        }
        check(false, "expected an EdgeException");
        return new EdgeException(Status.OK, "{}");
    }

    public static void main(String[] args) throws Exception {
        String base = System.getenv("AEP_EDGE_BASE_URL");
        if (base == null) throw new IllegalStateException("set AEP_EDGE_BASE_URL (bindings/java/test.sh starts an emulator)");
        java.util.function.Function<String, String> config = ds ->
                "{\"datastreamId\":\"" + ds + "\",\"baseUrl\":\"" + base + "\",\"retry\":{\"baseDelayMs\":10}}";

        check(EdgeClient.abiVersion() == 1, "ABI version 1");
        check(EdgeClient.version().matches("\\d+\\.\\d+\\.\\d+"), "version X.Y.Z");

        EdgeException bad = raises(() -> new EdgeClient("{\"datastreamId\":\"d\",\"colour\":1}"));
        check(bad.status() == Status.INVALID_CONFIG && bad.kind().equals("invalid_config"), "invalid_config");
        check(bad.getMessage().contains("colour"), "the message names the key");

        try (EdgeClient client = new EdgeClient(config.apply("known-ds"))) {
            String result = client.interact(EVENT);
            check(result.contains("\"httpStatus\":200"), "interact answered 200");
            check(result.contains("\"type\":\"state:store\""), "a state:store handle");
            check(result.contains("\"type\":\"identity:result\""), "an identity:result handle");
            check(client.session().contains("\"ecid\":\""), "the session has an ECID");
            client.resetSession();
            check(client.session().contains("\"ecid\":null"), "reset forgets the ECID");

            EdgeException request = raises(() -> client.interact("{\"evnt\":{}}"));
            check(request.kind().equals("invalid_request") && request.httpStatus() == -1, "invalid_request");
            check(raises(() -> client.interact(null)).status() == Status.NULL_ARGUMENT, "null is NULL_ARGUMENT");

            CompletableFuture<String> refused = client.interactAsync("{\"evnt\":{}}");
            check(refused.isCompletedExceptionally(), "a refused async request fails at once");
            check(raises(refused::join).kind().equals("invalid_request"), "with its EdgeException");

            List<CompletableFuture<String>> futures = new ArrayList<>();
            for (int i = 0; i < 16; i++) futures.add(client.interactAsync(EVENT));
            CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)).join();
            check(futures.stream().allMatch(f -> f.join().contains("\"httpStatus\":200")), "16 async calls answered 200");
        }

        EdgeClient unknown = new EdgeClient(config.apply("no-such-datastream"));
        EdgeException http = raises(() -> unknown.interact(EVENT));
        check(http.status() == Status.HTTP_ERROR && http.kind().equals("http"), "an HTTP error");
        check(http.httpStatus() == 400 && "EXEG-0003-400".equals(http.code()), "HTTP 400 EXEG-0003-400");
        check(http.requestId() != null, "the error names the request id");
        EdgeException async = raises(() -> unknown.interactAsync(EVENT).join());
        check("EXEG-0003-400".equals(async.code()), "the future fails with the EdgeException");

        EdgeClient.CloseReport report = unknown.close(Duration.ofSeconds(5));
        check(report.inFlight() == 0 && !report.timedOut(), "close finished in time");
        check(raises(() -> unknown.interact(EVENT)).status() == Status.CLOSED, "a closed client refuses calls");
        check(!unknown.close(Duration.ofSeconds(1)).timedOut(), "close is idempotent");

        // close is bounded while a call waits on a slow answer (the emulator delays the next one 1.5 s).
        var http11 = java.net.http.HttpClient.newHttpClient();
        var fault = http11.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(base + "/__emulator/faults"))
                        .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{\"delayMs\":1500,\"count\":1}"))
                        .header("content-type", "application/json").build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
        check(fault.statusCode() == 200, "fault accepted");
        EdgeClient slowClient = new EdgeClient(config.apply("known-ds"));
        CompletableFuture<String> slow = slowClient.interactAsync(EVENT);
        Thread.sleep(200);
        long started = System.nanoTime();
        EdgeClient.CloseReport bounded = slowClient.close(Duration.ofMillis(100));
        check(System.nanoTime() - started < 1_000_000_000L, "close returned within its timeout");
        check(bounded.timedOut() && bounded.inFlight() == 1, "the report names the call in flight");
        try {
            check(slow.join().contains("\"httpStatus\":200"), "the slow call finished");
        } catch (CompletionException e) {
            check(e.getCause() instanceof EdgeException edge && edge.status() == Status.CLOSED, "the slow call ended closed");
        }

        // Forgotten clients are freed by the cleaner.
        for (int i = 0; i < 50; i++) new EdgeClient(config.apply("known-ds"));
        System.gc();
        Thread.sleep(100);

        System.out.println(passed + " passed, " + failed + " failed");
        System.exit(failed == 0 ? 0 : 1);
    }
}
