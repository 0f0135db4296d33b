// aep-edge for C# (Mono, and the Mono that Unity embeds): a thin binding of the
// aep-edge C ABI.
//
//   using (var client = new AepEdge.EdgeClient("{\"datastreamId\": \"YOUR_DATASTREAM_ID\"}"))
//   {
//       try { string result = await client.InteractAsync(request); }
//       catch (AepEdge.EdgeException e) { Console.WriteLine(e.Kind + " " + e.HttpStatus + " " + e.Code); }
//   }
//
// JSON stays text. One client serves every thread. Dispose (or Close) finishes
// it; the SafeHandle frees a forgotten one, as a safety net only.
using System;
using System.Threading.Tasks;

namespace AepEdge
{
    /// The aep_edge_status numbers of aep_edge.h; a number not listed is still a failure.
    public enum Status : uint
    {
        Ok = 0, NullArgument = 1, InvalidUtf8 = 2, InvalidJson = 3, InvalidConfig = 4,
        InvalidRequest = 5, TransportError = 6, Timeout = 7, HttpError = 8, AuthError = 9,
        InvalidResponse = 10, QueueFull = 11, Closed = 12, StorageError = 13,
        ConsentDenied = 14, NotReady = 15, Panic = 99,
    }

    /// Every failure of the library: the status and the error object's facts.
    public sealed class EdgeException : Exception
    {
        public Status Status { get; private set; }
        /// "http", "transport", "timeout", "auth", "invalid_request", ...
        public string Kind { get; private set; }
        /// The HTTP status of the Edge Network's answer, or null.
        public int? HttpStatus { get; private set; }
        /// The EXEG code, e.g. "EXEG-0003-400", or null.
        public string Code { get; private set; }
        /// The request id sent, or null when nothing was sent.
        public string RequestId { get; private set; }
        public bool Retryable { get; private set; }
        /// The whole error object, {"error": {...}}.
        public string Json { get; private set; }

        internal EdgeException(Status status, string json)
            : base(MessageOf(status, json))
        {
            Status = status;
            Json = json ?? "{}";
            Kind = JsonField.String(Json, "kind") ?? "unknown";
            int http = JsonField.Integer(Json, "httpStatus");
            HttpStatus = http < 0 ? (int?)null : http;
            Code = JsonField.String(Json, "code");
            RequestId = JsonField.String(Json, "requestId");
            Retryable = Json.Contains("\"retryable\":true");
        }

        private static string MessageOf(Status status, string json)
        {
            string message = json == null ? null : JsonField.String(json, "message");
            return "aep-edge status " + (uint)status + ": " + (message ?? json);
        }
    }

    /// What Close saw: calls still in flight when its timeout passed.
    public struct CloseReport
    {
        public int InFlight;
        public bool TimedOut;
        public string Json;
    }

    public sealed class EdgeClient : IDisposable
    {
        private delegate uint RequestFn(ClientHandle client, byte[] input, out IntPtr output);
        private delegate uint OutFn(ClientHandle client, out IntPtr output);

        private readonly ClientHandle handle;

        /// Creates a client from its config JSON; throws EdgeException (Kind "invalid_config") when refused.
        public EdgeClient(string configJson)
        {
            ClientHandle h;
            IntPtr error;
            uint status = Native.aep_edge_client_new(Native.Utf8(configJson), out h, out error);
            Check(status, Native.Take(error));
            handle = h;
        }

        /// POST /ee/v2/interact: the result JSON.
        public string Interact(string requestJson) { return Call(Native.aep_edge_interact, requestJson); }
        /// POST /ee/v2/collect at once: the result JSON.
        public string Collect(string requestJson) { return Call(Native.aep_edge_collect, requestJson); }
        /// POST /ee/v1/privacy/set-consent: the result JSON.
        public string SetConsent(string requestJson) { return Call(Native.aep_edge_set_consent, requestJson); }
        /// Replaces the static token of token auth.
        public void SetAccessToken(string token) { Call(Native.aep_edge_client_set_access_token, token); }
        /// The session view JSON (ECID, location hint, consent, state entries).
        public string Session() { return Call(Native.aep_edge_session_get); }
        /// Forgets the visitor (kiosk: the next one starts fresh).
        public void ResetSession() { Call(Native.aep_edge_session_reset); }

        /// Interact on a worker thread of the library (aep_edge_interact_async):
        /// returns at once; the task fails with EdgeException (at once for a
        /// refused request). Continuations never run on the library's threads.
        public Task<string> InteractAsync(string requestJson) { return Start(Native.aep_edge_interact_async, requestJson); }
        public Task<string> CollectAsync(string requestJson) { return Start(Native.aep_edge_collect_async, requestJson); }
        public Task<string> SetConsentAsync(string requestJson) { return Start(Native.aep_edge_set_consent_async, requestJson); }

        private delegate uint AsyncFn(ClientHandle client, byte[] request, Native.CompletionFn callback, IntPtr userData,
                                      out ulong callId, out IntPtr error);

        private Task<string> Start(AsyncFn fn, string requestJson)
        {
            var task = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            // Registered first: the completion may run before the call returns.
            long key = Async.Register(handle, task);
            ulong callId;
            IntPtr error;
            uint status;
            try
            {
                status = fn(handle, Native.Utf8(requestJson), Async.Callback, new IntPtr(key), out callId, out error);
            }
            catch (ObjectDisposedException)
            {
                Async.Take(key);
                task.TrySetException(ClosedError());
                return task.Task;
            }
            string json = Native.Take(error);
            if (status != (uint)Status.Ok && Async.Take(key) != null)
                task.TrySetException(new EdgeException((Status)status, json));
            return task.Task;
        }

        /// Refuses new calls, stops retries, waits up to timeout for calls in
        /// flight, then releases the client (once the calls using it return).
        /// May run while other threads are in calls. Idempotent.
        public CloseReport Close(TimeSpan timeout)
        {
            if (handle.IsClosed) return new CloseReport { Json = "{}" };
            double ms = Math.Max(0, Math.Min(timeout.TotalMilliseconds, uint.MaxValue));
            IntPtr report;
            uint status;
            try
            {
                status = Native.aep_edge_client_close(handle, (uint)ms, out report);
            }
            catch (ObjectDisposedException)
            {
                return new CloseReport { Json = "{}" };
            }
            string json = Native.Take(report);
            handle.Dispose();
            if (status != (uint)Status.Ok && status != (uint)Status.Timeout) throw new EdgeException((Status)status, json);
            json = json ?? "{}";
            return new CloseReport
            {
                InFlight = Math.Max(0, JsonField.Integer(json, "inFlight")),
                TimedOut = status == (uint)Status.Timeout,
                Json = json,
            };
        }

        /// Close with a 5 second timeout.
        public void Dispose() { Close(TimeSpan.FromSeconds(5)); }

        public static string Version { get { return Native.Read(Native.aep_edge_version()); } }
        public static uint AbiVersion { get { return Native.aep_edge_abi_version(); } }

        private string Call(RequestFn fn, string input)
        {
            IntPtr output;
            uint status;
            try { status = fn(handle, Native.Utf8(input), out output); }
            catch (ObjectDisposedException) { throw ClosedError(); }
            return Check(status, Native.Take(output));
        }

        private string Call(OutFn fn)
        {
            IntPtr output;
            uint status;
            try { status = fn(handle, out output); }
            catch (ObjectDisposedException) { throw ClosedError(); }
            return Check(status, Native.Take(output));
        }

        private static EdgeException ClosedError()
        {
            return new EdgeException(Status.Closed, "{\"error\":{\"kind\":\"closed\",\"message\":\"the client was closed\"}}");
        }

        /// The one place a status becomes a .NET exception.
        private static string Check(uint status, string json)
        {
            if (status != (uint)Status.Ok) throw new EdgeException((Status)status, json);
            return json;
        }
    }

    /// Reads single fields of the compact JSON the library writes (no spaces).
    internal static class JsonField
    {
        internal static string String(string json, string key)
        {
            string needle = "\"" + key + "\":\"";
            int at = json.IndexOf(needle, StringComparison.Ordinal);
            if (at < 0) return null;
            var sb = new System.Text.StringBuilder();
            for (int i = at + needle.Length; i < json.Length; i++)
            {
                char c = json[i];
                if (c == '"') return sb.ToString();
                if (c == '\\' && i + 1 < json.Length)
                {
                    char e = json[++i];
                    switch (e)
                    {
                        case 'n': sb.Append('\n'); break;
                        case 't': sb.Append('\t'); break;
                        case 'r': sb.Append('\r'); break;
                        case 'b': sb.Append('\b'); break;
                        case 'f': sb.Append('\f'); break;
                        case 'u':
                            if (i + 4 < json.Length)
                            {
                                sb.Append((char)Convert.ToInt32(json.Substring(i + 1, 4), 16));
                                i += 4;
                            }
                            break;
                        default: sb.Append(e); break;
                    }
                }
                else
                {
                    sb.Append(c);
                }
            }
            return null;
        }

        internal static int Integer(string json, string key)
        {
            string needle = "\"" + key + "\":";
            int at = json.IndexOf(needle, StringComparison.Ordinal);
            if (at < 0) return -1;
            int i = at + needle.Length, end = i;
            while (end < json.Length && char.IsDigit(json[end])) end++;
            int value;
            return end > i && int.TryParse(json.Substring(i, end - i), out value) ? value : -1;
        }
    }
}
