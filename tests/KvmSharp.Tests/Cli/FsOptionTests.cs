using KvmSharp.Cli.Parsing;
using KvmSharp.Machine.Config;

namespace KvmSharp.Tests.Cli;

/// <summary>--fs tag=NAME,path=DIR[,readonly=on]: parsed, validated with fields named, and kept by the JSON config.</summary>
public class FsOptionTests
{
    [Fact]
    public void TheOptionParsesIntoAConfigThatSurvivesJson()
    {
        Assert.True(FsOption.TryParse("tag=share,path=/srv/x,readonly=on", out var share, out string error), error);
        Assert.Equal(new FsConfig("share", "/srv/x", ReadOnly: true), share);
        var config = new MachineConfig { Filesystems = [share!, new FsConfig("two", "/srv/y")] }.Normalize();
        Assert.Equal(["fs0", "fs1"], config.Filesystems.Select(f => f.Id));
        Assert.Empty(config.Validate());
        string json = MachineConfigJson.Write(config);
        Assert.Contains("\"filesystems\": [", json);
        Assert.Equal(config, MachineConfigJson.Read(json));
        Assert.Empty(MachineConfigJson.Read("{\"format_version\": 1}").Filesystems);
    }

    [Theory]
    [InlineData("path=/srv/x", "needs both tag=NAME and path=DIR")]
    [InlineData("tag=a", "needs both tag=NAME and path=DIR")]
    [InlineData("/srv/x", "is not key=value")]
    [InlineData("tag=a,path=/x,readonly=maybe", "readonly")]
    [InlineData("tag=a,path=/x,cache=always", "cache")]
    public void BadFormsAreOneLine(string text, string mention)
    {
        Assert.False(FsOption.TryParse(text, out _, out string error));
        Assert.Contains(mention, error);
    }

    [Fact]
    public void ValidationNamesTheFieldAndTheFlag()
    {
        var config = new MachineConfig { Filesystems = [new FsConfig(new string('t', 37), "/x"), new FsConfig("a", "relative"), new FsConfig("a", "/y"), new FsConfig("a", "/z")] };
        var problems = config.Validate();
        Assert.Equal(["filesystems[0].tag", "filesystems[1].path", "filesystems[2].tag", "filesystems[3].tag"], problems.Select(p => p.Field));
        Assert.StartsWith("--fs:", ConfigFlags.Describe(problems[0]));
    }

    [Fact]
    public void AMissingFolderIsOneClearErrorFromTheCli()
    {
        var (code, _, stderr) = CliProcess.Run("run", "--kernel", "demo", "--fs", "tag=a,path=/nonexistent/kvmsharp-share");
        Assert.NotEqual(0, code);
        Assert.Contains("/nonexistent/kvmsharp-share' is not a folder on this host", stderr);
        Assert.DoesNotContain("   at ", stderr);
    }
}
