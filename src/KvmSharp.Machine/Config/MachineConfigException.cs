namespace KvmSharp.Machine.Config;

/// <summary>A machine definition that cannot be built; the message is for the user.</summary>
public sealed class MachineConfigException : Exception
{
    public MachineConfigException(string message) : base(message) => Problems = [];

    /// <summary>Validation's problems, in the config's words (each front end may say them in its own: <see cref="ConfigProblem.Describe"/>).</summary>
    public MachineConfigException(IReadOnlyList<ConfigProblem> problems) : base(string.Join("; ", problems)) => Problems = problems;

    /// <summary>The problems behind this exception, when it came from validation; empty otherwise.</summary>
    public IReadOnlyList<ConfigProblem> Problems { get; }
}
