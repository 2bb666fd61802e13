using System.Collections.Concurrent;
using Iced.Intel;

namespace KvmSharp.Accelerators.Emulate.Cpu;

/// <summary>
/// Instructions that raised #UD because this CPU does not implement them: counted by mnemonic, and
/// reported once each through <see cref="FirstSeen"/>, so gaps are visible and never silent.
/// </summary>
public sealed class UnimplementedInstructions
{
    private readonly ConcurrentDictionary<Mnemonic, long> _counts = new();

    /// <summary>Called the first time a mnemonic is met, with a line naming it and where.</summary>
    public Action<string>? FirstSeen { get; set; }

    public IReadOnlyDictionary<Mnemonic, long> Counts => _counts;

    public void Record(in Instruction instruction)
    {
        var mnemonic = instruction.Mnemonic;
        if (_counts.AddOrUpdate(mnemonic, 1, (_, n) => n + 1) == 1)
            FirstSeen?.Invoke($"software CPU: '{instruction}' at 0x{instruction.IP:x} is not implemented; the guest gets #UD");
    }
}
