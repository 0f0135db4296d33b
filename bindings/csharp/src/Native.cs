// P/Invoke declarations of the aep-edge C ABI (aep_edge.h). Strings go in as
// NUL-terminated UTF-8 byte arrays; strings come out as pointers that Native.Take
// copies and releases with aep_edge_string_free.
using System;
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Threading.Tasks;
using System.Text;

namespace AepEdge
{
    internal static class Native
    {
        // Mono maps this name to the file (libaep_edge.so.1) with AepEdge.dll.config;
        // Unity finds the plugin by the same name.
        internal const string Lib = "aep_edge";

        [DllImport(Lib)] internal static extern IntPtr aep_edge_version();
        [DllImport(Lib)] internal static extern uint aep_edge_abi_version();
        [DllImport(Lib)] internal static extern uint aep_edge_client_new(byte[] config, out ClientHandle client, out IntPtr error);
        [DllImport(Lib)] internal static extern uint aep_edge_client_close(ClientHandle client, uint timeoutMs, out IntPtr report);
        [DllImport(Lib)] internal static extern void aep_edge_client_free(IntPtr client);
        [DllImport(Lib)] internal static extern uint aep_edge_interact(ClientHandle client, byte[] request, out IntPtr result);
        [DllImport(Lib)] internal static extern uint aep_edge_collect(ClientHandle client, byte[] request, out IntPtr result);
        [DllImport(Lib)] internal static extern uint aep_edge_set_consent(ClientHandle client, byte[] request, out IntPtr result);
        [DllImport(Lib)] internal static extern uint aep_edge_session_get(ClientHandle client, out IntPtr result);
        [DllImport(Lib)] internal static extern uint aep_edge_session_reset(ClientHandle client, out IntPtr error);
        [DllImport(Lib)] internal static extern uint aep_edge_client_set_access_token(ClientHandle client, byte[] token, out IntPtr error);
        [DllImport(Lib)] internal static extern void aep_edge_string_free(IntPtr s);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void CompletionFn(IntPtr userData, ulong callId, uint status, IntPtr resultJson);

        [DllImport(Lib)] internal static extern uint aep_edge_interact_async(ClientHandle client, byte[] request, CompletionFn callback, IntPtr userData, out ulong callId, out IntPtr error);
        [DllImport(Lib)] internal static extern uint aep_edge_collect_async(ClientHandle client, byte[] request, CompletionFn callback, IntPtr userData, out ulong callId, out IntPtr error);
        [DllImport(Lib)] internal static extern uint aep_edge_set_consent_async(ClientHandle client, byte[] request, CompletionFn callback, IntPtr userData, out ulong callId, out IntPtr error);

        /// NUL-terminated UTF-8, or null (the library answers NULL_ARGUMENT).
        internal static byte[] Utf8(string s)
        {
            if (s == null) return null;
            byte[] bytes = new byte[Encoding.UTF8.GetByteCount(s) + 1];
            Encoding.UTF8.GetBytes(s, 0, s.Length, bytes, 0);
            return bytes;
        }

        /// Reads a UTF-8 C string without freeing it.
        internal static string Read(IntPtr p)
        {
            if (p == IntPtr.Zero) return null;
            int n = 0;
            while (Marshal.ReadByte(p, n) != 0) n++;
            byte[] bytes = new byte[n];
            Marshal.Copy(p, bytes, 0, n);
            return Encoding.UTF8.GetString(bytes);
        }

        /// Copies a string the library returned and releases it.
        internal static string Take(IntPtr p)
        {
            try { return Read(p); }
            finally { aep_edge_string_free(p); }
        }
    }

    /// IL2CPP (Unity) needs this mark on a static method called from native code;
    /// it looks for the attribute by name.
    [AttributeUsage(AttributeTargets.Method)]
    internal sealed class MonoPInvokeCallbackAttribute : Attribute
    {
        public MonoPInvokeCallbackAttribute(Type type) { }
    }

    /// The client handle: freed once, after every call using it has returned
    /// (P/Invoke holds a reference to a SafeHandle for the length of a call).
    /// It also holds the tasks its async calls still owe.
    internal sealed class ClientHandle : SafeHandle
    {
        private ClientHandle() : base(IntPtr.Zero, true) { }

        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }

        internal readonly ConcurrentDictionary<long, TaskCompletionSource<string>> Pending =
            new ConcurrentDictionary<long, TaskCompletionSource<string>>();

        protected override bool ReleaseHandle()
        {
            Native.aep_edge_client_free(handle);
            // No completion of this client runs any more: the calls the free
            // dropped end closed, so no task waits forever.
            foreach (long key in Pending.Keys)
            {
                TaskCompletionSource<string> task;
                if (Pending.TryRemove(key, out task))
                {
                    Async.Forget(key);
                    task.TrySetException(new EdgeException(Status.Closed,
                        "{\"error\":{\"kind\":\"closed\",\"message\":\"the client was freed before this call completed\"}}"));
                }
            }
            return true;
        }
    }

    /// The one completion callback of every async call; user_data is a key.
    internal static class Async
    {
        private static long nextKey;
        private static readonly ConcurrentDictionary<long, ClientHandle> Owners = new ConcurrentDictionary<long, ClientHandle>();
        // Kept in a static field: the delegate must outlive every call.
        internal static readonly Native.CompletionFn Callback = OnCompletion;

        internal static long Register(ClientHandle owner, TaskCompletionSource<string> task)
        {
            long key = System.Threading.Interlocked.Increment(ref nextKey);
            owner.Pending[key] = task;
            Owners[key] = owner;
            return key;
        }

        internal static void Forget(long key)
        {
            ClientHandle owner;
            Owners.TryRemove(key, out owner);
        }

        internal static TaskCompletionSource<string> Take(long key)
        {
            ClientHandle owner;
            TaskCompletionSource<string> task = null;
            if (Owners.TryRemove(key, out owner)) owner.Pending.TryRemove(key, out task);
            return task;
        }

        // Runs on a worker thread of the library: nothing may escape it. The
        // task's continuations run elsewhere (RunContinuationsAsynchronously).
        [MonoPInvokeCallback(typeof(Native.CompletionFn))]
        private static void OnCompletion(IntPtr userData, ulong callId, uint status, IntPtr resultJson)
        {
            try
            {
                TaskCompletionSource<string> task = Take(userData.ToInt64());
                if (task == null) return;
                string json = Native.Read(resultJson) ?? "{}";
                if (status == (uint)Status.Ok) task.TrySetResult(json);
                else task.TrySetException(new EdgeException((Status)status, json));
            }
            catch (Exception)
            {
                // Nothing may unwind into the library.
            }
        }
    }
}
