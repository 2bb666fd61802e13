namespace KvmSharp.Accelerators.Emulate.Translate;

/// <summary>How the software CPU uses its block translator (<c>--jit</c>).</summary>
public enum TranslatorMode : byte
{
    /// <summary>The interpreter only (hosts without executable memory; the reference).</summary>
    Off,
    /// <summary>Blocks run often enough (<see cref="Translator.HotThreshold"/>) are translated.</summary>
    On,
    /// <summary>Every block is translated on first use (tests: every compiled form is exercised).</summary>
    Always,
    /// <summary>As <see cref="Always"/>, and each translated block is also run by the interpreter from the same state and compared; a mismatch stops the CPU naming the block.</summary>
    Verify,
}

public static class TranslatorModes
{
    /// <summary>
    /// The mode when none is given: <c>KVMSHARP_JIT</c> (off, on, always, verify) if set, so a test run can put every
    /// software CPU it creates under one mode (CI runs the software-CPU suite with off and with always), else
    /// <see cref="TranslatorMode.On"/>.
    /// </summary>
    public static TranslatorMode Default { get; } = Parse(Environment.GetEnvironmentVariable("KVMSHARP_JIT")) ?? TranslatorMode.On;

    /// <summary>The mode a word names (case-insensitive); null for anything else.</summary>
    public static TranslatorMode? Parse(string? word) => word?.Trim().ToLowerInvariant() switch
    {
        "off" => TranslatorMode.Off,
        "on" => TranslatorMode.On,
        "always" => TranslatorMode.Always,
        "verify" => TranslatorMode.Verify,
        _ => null,
    };
}
