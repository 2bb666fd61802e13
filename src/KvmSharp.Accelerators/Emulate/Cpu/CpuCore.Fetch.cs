using Iced.Intel;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// Finding the block at CS:RIP: the previous block's links, the jump cache, the block cache, or a decode.
public sealed unsafe partial class CpuCore
{
    /// <summary>
    /// The block at CS:RIP: one of <paramref name="previous"/>'s two links when it matches, else the jump
    /// cache (by virtual RIP), else a translation and <see cref="BlockCache.Find"/> (or a decode); the
    /// block found is linked from <paramref name="previous"/> for next time.
    /// </summary>
    private DecodedBlock NextBlock(DecodedBlock? previous)
    {
        ulong rip = _cpu.Rip, csBase = _cpu.Segments[CpuState.Cs].Base;
        uint epoch = Mmu.TranslationEpoch;
        int mode = _cpu.ExecutionMode;
        if (previous is not null)
        {
            if (previous.Link0.Matches(rip, csBase, epoch, mode)) return previous.Link0.Target!;
            if (previous.Link1.Matches(rip, csBase, epoch, mode)) return previous.Link1.Target!;
        }
        var block = _jumpCache.Find(rip, csBase, epoch, mode);
        if (block is null)
        {
            block = FetchBlock();
            _jumpCache.Add(block, rip, csBase, epoch, mode);
        }
        if (previous is not null)
        {
            // Slot 0 keeps the first successor seen; slot 1 takes the others (the second branch direction).
            var link = new BlockLink { Target = block, Rip = rip, CsBase = csBase, Epoch = epoch, Mode = mode };
            if (previous.Link0.Target is null || previous.Link0.Rip == rip) previous.Link0 = link;
            else previous.Link1 = link;
        }
        return block;
    }

    /// <summary>The block at CS:RIP, decoded on first use.</summary>
    private DecodedBlock FetchBlock()
    {
        ulong rip = _cpu.Rip;
        ulong linear = (_cpu.Segments[CpuState.Cs].Base + rip) & _cpu.LinearMask;
        ulong physical = Mmu.Translate(linear, AccessKind.Execute);
        int bitness = _cpu.CodeSize * 8;
        var block = _blocks.Find(physical, rip, bitness);
        if (block is not null) return block;

        int inPage = (int)(0x1000 - (linear & 0xFFF));
        if (!ReadCode(physical, _fetchBuffer.AsSpan(0, inPage)))
            throw new CpuException(ExceptionVector.GeneralProtection);   // executing from MMIO is not supported
        ulong? nextPhysical = null;
        int total = inPage;
        try
        {
            ulong next = Mmu.Translate(linear + (ulong)inPage, AccessKind.Execute);
            if (ReadCode(next, _fetchBuffer.AsSpan(inPage, 15))) { nextPhysical = next; total += 15; }
        }
        catch (CpuException) when (inPage < 15 && IsCutOff(_fetchBuffer.AsSpan(0, inPage), rip, bitness))
        {
            // The instruction at RIP runs on into a page that is not mapped: fetching it faults on that page (SDM vol 3
            // §6.15, #PF on an instruction fetch, CR2 the address in the next page), as Linux's demand paging expects.
            throw;
        }
        catch (CpuException)
        {
            // The next page is not mapped: a later instruction that needs it starts a block of its own, and faults there.
        }
        return _blocks.Decode(_fetchBuffer.AsSpan(0, total), inPage, rip, physical, nextPhysical, bitness);
    }

    /// <summary>True when the instruction at the start of <paramref name="bytes"/> needs more bytes than there are.</summary>
    private static bool IsCutOff(ReadOnlySpan<byte> bytes, ulong rip, int bitness)
    {
        var decoder = Iced.Intel.Decoder.Create(bitness, new Iced.Intel.ByteArrayCodeReader(bytes.ToArray()), rip);
        decoder.Decode(out _);
        return decoder.LastError == Iced.Intel.DecoderError.NoMoreBytes;
    }

    private unsafe bool ReadCode(ulong physical, Span<byte> destination)
    {
        byte* source = _physical.HostPointer(physical, destination.Length);
        if (source == null) return false;
        new ReadOnlySpan<byte>(source, destination.Length).CopyTo(destination);
        return true;
    }
}
