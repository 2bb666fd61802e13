using KvmSharp.Machine.Images;

namespace KvmSharp.Tests.Boot;

/// <summary>
/// The default guest (Debian's cloud kernel and our initramfs), built by the same code as
/// <c>kvmsharp image pull</c> into the user's cache and reused between runs, so a test run builds it at
/// most once. When it cannot be built (no apt, no network) the tests that use it fail with that one line.
/// </summary>
public sealed class DebianKernelFixture
{
    public DebianKernelFixture()
    {
        Guest = DefaultGuestImage.Ensure(DefaultGuestImage.DefaultCacheDirectory, force: false, _ => { });
        Bytes = File.ReadAllBytes(Guest.KernelPath);
    }

    public DefaultGuest Guest { get; }

    public string KernelPath => Guest.KernelPath;

    public byte[] Bytes { get; }
}
