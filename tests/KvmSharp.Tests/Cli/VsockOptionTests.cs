namespace KvmSharp.Tests.Cli;

/// <summary>`kvmsharp run --vsock cid=N,uds=PATH`: bad values are one clear line and a non-zero exit.</summary>
public class VsockOptionTests
{
    [Theory]
    [InlineData("cid=abc,uds=/tmp/v.sock", "--vsock: cid 'abc' is not a 32-bit number")]
    [InlineData("cid=0x100000000,uds=/tmp/v.sock", "--vsock: cid '0x100000000' is not a 32-bit number")]
    [InlineData("uds=/tmp/v.sock", "--vsock: needs both cid=N and uds=PATH")]
    [InlineData("cid=3", "--vsock: needs both cid=N and uds=PATH")]
    [InlineData("cid=3,uds=/tmp/v.sock,port=5", "--vsock: unknown key 'port' (known: cid, uds)")]
    [InlineData("/tmp/v.sock,cid=3", "--vsock: '/tmp/v.sock' is not key=value; use cid=N,uds=PATH")]
    public void MalformedValuesAreRejectedWhileParsing(string value, string expected)
    {
        var (code, _, stderr) = CliProcess.Run("run", "--kernel", "demo", "--vsock", value);
        Assert.NotEqual(0, code);
        Assert.Contains(expected, stderr);
        Assert.DoesNotContain("   at ", stderr);
    }

    [Theory]
    [InlineData("cid=2,uds=/tmp/v.sock", "kvmsharp: error: --vsock: cid 2 is reserved; use 3 to 4294967294")]
    [InlineData("cid=4294967295,uds=/tmp/v.sock", "kvmsharp: error: --vsock: cid 4294967295 is reserved; use 3 to 4294967294")]
    [InlineData("cid=3,uds=/nonexistent-dir/v.sock", "kvmsharp: error: --vsock: the directory of uds '/nonexistent-dir/v.sock' does not exist")]
    public void ReservedCidsAndMissingDirectoriesAreOneLine(string value, string expected)
    {
        var (code, stdout, stderr) = CliProcess.Run("run", "--kernel", "demo", "--accel", "emulate", "--vsock", value);
        Assert.Equal(1, code);
        Assert.Equal(expected, stderr.Trim());
        Assert.Equal("", stdout);
    }
}
