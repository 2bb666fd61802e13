namespace KvmSharp.Machine.Config;

/// <summary>
/// The names devices go by (<c>disk0</c>, Firecracker's drive_id <c>rootfs</c>): 1 to 64 ASCII letters, digits, '_'
/// or '-', so an id fits a URL path segment (<c>PUT /drives/{id}</c>) and a file name without quoting.
/// </summary>
public static class DeviceId
{
    public const int MaxLength = 64;

    /// <summary>The rule in words, for messages.</summary>
    public const string Rule = "use 1 to 64 letters, digits, '_' or '-'";

    public static bool IsValid(string id) =>
        id.Length is > 0 and <= MaxLength && id.All(c => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_' or '-');
}
