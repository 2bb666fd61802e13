using System.Runtime.InteropServices;

namespace KvmSharp.Native.Libc;

/// <summary>Becomes another program in this very process (same pid, same signals, same terminal), as a shell's exec.</summary>
public static class Exec
{
    /// <summary>Never returns on success; throws <see cref="NativeException"/> when the program cannot be run.</summary>
    public static unsafe void Replace(string program, IReadOnlyList<string> arguments)
    {
        var strings = new nint[arguments.Count + 2];
        var argv = new nint[arguments.Count + 2];
        try
        {
            strings[0] = Marshal.StringToCoTaskMemUTF8(program);
            for (int i = 0; i < arguments.Count; i++) strings[i + 1] = Marshal.StringToCoTaskMemUTF8(arguments[i]);
            Array.Copy(strings, argv, argv.Length - 1);
            argv[^1] = 0;
            fixed (nint* vector = argv)
            {
                LibcImports.Execv((byte*)strings[0], (byte**)vector);
            }
            throw new NativeException($"execv {program}", Marshal.GetLastPInvokeError());
        }
        finally
        {
            foreach (var s in strings) if (s != 0) Marshal.FreeCoTaskMem(s);
        }
    }
}
