namespace KvmSharp.Tests.Integration;

/// <summary>
/// Programs the default guest lacks (busybox has no AF_VSOCK client or server), compiled at test time
/// from the source here with the host's C compiler into a static binary that a test puts on a disk image.
/// </summary>
internal static class GuestTools
{
    /// <summary>
    /// vsock-echo serve PORT: accepts one connection on PORT and echoes it back until EOF.
    /// vsock-echo call CID PORT TEXT: connects, sends TEXT, half-closes, prints what comes back.
    /// </summary>
    private const string VsockEchoSource = """
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <unistd.h>
        #include <sys/socket.h>
        #include <linux/vm_sockets.h>

        static int fail(const char *what) { perror(what); return 1; }

        int main(int argc, char **argv) {
            char buf[4096];
            ssize_t n;
            if (argc == 3 && strcmp(argv[1], "serve") == 0) {
                struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = atoi(argv[2]) };
                int s = socket(AF_VSOCK, SOCK_STREAM, 0);
                if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 1)) return fail("serve");
                int c = accept(s, NULL, NULL);
                if (c < 0) return fail("accept");
                while ((n = read(c, buf, sizeof buf)) > 0)
                    if (write(c, buf, n) != n) return fail("echo");
                close(c);
                return 0;
            }
            if (argc == 5 && strcmp(argv[1], "call") == 0) {
                struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = atoi(argv[2]), .svm_port = atoi(argv[3]) };
                int s = socket(AF_VSOCK, SOCK_STREAM, 0);
                if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a)) return fail("connect");
                size_t len = strlen(argv[4]);
                if (write(s, argv[4], len) != (ssize_t)len) return fail("send");
                shutdown(s, SHUT_WR);
                while ((n = read(s, buf, sizeof buf)) > 0) fwrite(buf, 1, n, stdout);
                putchar('\n');
                return 0;
            }
            fprintf(stderr, "usage: vsock-echo serve PORT | call CID PORT TEXT\n");
            return 2;
        }
        """;

    private static readonly Lazy<byte[]> VsockEchoBinary = new(() => Compile("vsock-echo", VsockEchoSource));

    public static byte[] VsockEcho => VsockEchoBinary.Value;

    private static byte[] Compile(string name, string source)
    {
        string dir = Directory.CreateTempSubdirectory("kvmsharp-guest-tool-").FullName;
        try
        {
            string c = Path.Combine(dir, name + ".c"), binary = Path.Combine(dir, name);
            File.WriteAllText(c, source);
            HostTool.Run("cc", "-static", "-Os", "-o", binary, c);
            return File.ReadAllBytes(binary);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
