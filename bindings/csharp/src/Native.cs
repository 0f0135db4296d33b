// P/Invoke declarations of the aep-edge C ABI (aep_edge.h). Strings go in as
// NUL-terminated UTF-8 byte arrays; strings come out as pointers that Native.Take
// copies and releases with aep_edge_string_free.
using System;
using System.Runtime.InteropServices;
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

    /// The client handle: freed once, after every call using it has returned
    /// (P/Invoke holds a reference to a SafeHandle for the length of a call).
    internal sealed class ClientHandle : SafeHandle
    {
        private ClientHandle() : base(IntPtr.Zero, true) { }

        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }

        protected override bool ReleaseHandle()
        {
            Native.aep_edge_client_free(handle);
            return true;
        }
    }
}
