// The C# binding on Mono against the emulator (AEP_EDGE_BASE_URL, --datastream known-ds).
using System;
using System.Linq;
using System.Threading.Tasks;
using AepEdge;

public static class Tests
{
    const string Event = "{\"event\":{\"xdm\":{\"identityMap\":{\"Email_LC_SHA256\":[{\"id\":\"0c7e6a405862e402eb76a70f8a26fc732d07c32931e9fae9ab1582911d2e8a3b\",\"primary\":true}]},\"eventType\":\"web.webpagedetails.pageViews\",\"web\":{\"webPageDetails\":{\"URL\":\"https://alloystore.dev/\",\"name\":\"home-demo-Home Page\"}},\"timestamp\":\"2021-08-09T14:09:20.859Z\"},\"data\":{\"prop1\":\"custom value\"}}}";
    static int passed, failed;
    static string baseUrl;

    static void Check(bool ok, string what)
    {
        if (ok) passed++;
        else { failed++; Console.Error.WriteLine("FAIL: " + what); }
    }

    static EdgeException Raises(Action action)
    {
        try { action(); }
        catch (EdgeException e) { return e; }
        catch (AggregateException e) when (e.InnerException is EdgeException) { return (EdgeException)e.InnerException; }
        Check(false, "expected an EdgeException");
        return null;
    }

    static string Config(string datastream)
    {
        return "{\"datastreamId\":\"" + datastream + "\",\"baseUrl\":\"" + baseUrl + "\",\"retry\":{\"baseDelayMs\":10}}";
    }

    public static int Main()
    {
        baseUrl = Environment.GetEnvironmentVariable("AEP_EDGE_BASE_URL");
        if (baseUrl == null) { Console.Error.WriteLine("set AEP_EDGE_BASE_URL"); return 2; }

        Check(EdgeClient.AbiVersion == 1, "ABI version 1");
        Check(EdgeClient.Version.Split('.').Length == 3, "version X.Y.Z");

        var bad = Raises(() => new EdgeClient("{\"datastreamId\":\"d\",\"colour\":1}"));
        Check(bad != null && bad.Status == Status.InvalidConfig && bad.Kind == "invalid_config", "invalid_config");
        Check(bad != null && bad.Message.Contains("colour"), "the message names the key");

        using (var client = new EdgeClient(Config("known-ds")))
        {
            string result = client.Interact(Event);
            Check(result.Contains("\"httpStatus\":200"), "interact answered 200");
            Check(result.Contains("\"type\":\"state:store\""), "a state:store handle");
            Check(result.Contains("\"type\":\"identity:result\""), "an identity:result handle");
            Check(client.Session().Contains("\"ecid\":\""), "the session has an ECID");
            client.ResetSession();
            Check(client.Session().Contains("\"ecid\":null"), "reset forgets the ECID");

            var request = Raises(() => client.Interact("{\"evnt\":{}}"));
            Check(request != null && request.Kind == "invalid_request" && request.HttpStatus == null, "invalid_request");
            var nul = Raises(() => client.Interact(null));
            Check(nul != null && nul.Status == Status.NullArgument, "null is NullArgument");

            var refused = client.InteractAsync("{\"evnt\":{}}");
            Check(refused.IsFaulted, "a refused async request fails at once");
            var refusedError = Raises(() => refused.Wait());
            Check(refusedError != null && refusedError.Kind == "invalid_request", "with its EdgeException");

            var tasks = Enumerable.Range(0, 16).Select(_ => client.InteractAsync(Event)).ToArray();
            Task.WaitAll(tasks);
            Check(tasks.All(t => t.Result.Contains("\"httpStatus\":200")), "16 tasks answered 200");
        }

        var unknown = new EdgeClient(Config("no-such-datastream"));
        var http = Raises(() => unknown.Interact(Event));
        Check(http != null && http.Status == Status.HttpError && http.Kind == "http", "an HTTP error");
        Check(http != null && http.HttpStatus == 400 && http.Code == "EXEG-0003-400", "HTTP 400 EXEG-0003-400");
        Check(http != null && http.RequestId != null, "the error names the request id");
        var async = Raises(() => unknown.InteractAsync(Event).Wait());
        Check(async != null && async.Code == "EXEG-0003-400", "the task fails with the EdgeException");

        var report = unknown.Close(TimeSpan.FromSeconds(5));
        Check(report.InFlight == 0 && !report.TimedOut, "close finished in time");
        var closed = Raises(() => unknown.Interact(Event));
        Check(closed != null && closed.Status == Status.Closed, "a closed client refuses calls");
        Check(!unknown.Close(TimeSpan.FromSeconds(1)).TimedOut, "close is idempotent");

        // Close is bounded while a call waits on a slow answer (the emulator delays the next one 1.5 s).
        using (var web = new System.Net.WebClient())
        {
            web.Headers.Add("content-type", "application/json");
            web.UploadString(baseUrl + "/__emulator/faults", "{\"delayMs\":1500,\"count\":1}");
        }
        var slowClient = new EdgeClient(Config("known-ds"));
        var slow = slowClient.InteractAsync(Event);
        System.Threading.Thread.Sleep(200);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var bounded = slowClient.Close(TimeSpan.FromMilliseconds(100));
        Check(watch.ElapsedMilliseconds < 1000, "close returned within its timeout");
        Check(bounded.TimedOut && bounded.InFlight == 1, "the report names the call in flight");
        try { Check(slow.Result.Contains("\"httpStatus\":200"), "the slow call finished"); }
        catch (AggregateException e) when (e.InnerException is EdgeException)
        {
            Check(((EdgeException)e.InnerException).Status == Status.Closed, "the slow call ended closed");
        }

        // Forgotten clients are released by their SafeHandle's finalizer.
        for (int i = 0; i < 50; i++) new EdgeClient(Config("known-ds"));
        GC.Collect();
        GC.WaitForPendingFinalizers();

        Console.WriteLine(passed + " passed, " + failed + " failed");
        return failed == 0 ? 0 : 1;
    }
}
