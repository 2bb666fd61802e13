using System.Text;

namespace KvmSharp.Machine.Config;

/// <summary>
/// One mistake in a <see cref="MachineConfig"/>. <paramref name="Field"/> is the JSON path of the value that is wrong
/// (<c>memory_size</c>, <c>disks[1].path</c>); <paramref name="Message"/> reads after the field's name and may name
/// another field as <c>{json_path}</c>, so that each front end (a config file, the CLI's flags, the API) can say
/// both in its own words through <see cref="Describe"/>.
/// </summary>
public sealed record ConfigProblem(string Field, string Message)
{
    /// <summary>The message with each <c>{field}</c> written as <paramref name="nameOf"/> gives it.</summary>
    public string Describe(Func<string, string> nameOf)
    {
        var text = new StringBuilder(Message.Length);
        int at = 0;
        while (at < Message.Length)
        {
            int open = Message.IndexOf('{', at), close = open < 0 ? -1 : Message.IndexOf('}', open);
            if (close < 0) break;
            string name = Message[(open + 1)..close];
            // Only a JSON path is a field; a brace in a value the message quotes (a file name) stays as it is.
            text.Append(Message, at, open - at).Append(IsFieldPath(name) ? nameOf(name) : Message[open..(close + 1)]);
            at = close + 1;
        }
        return text.Append(Message, at, Message.Length - at).ToString();
    }

    private static bool IsFieldPath(string name) =>
        name.Length > 0 && name.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_' or '.' or '[' or ']');

    /// <summary>In the config file's words: "memory_size: must be between …".</summary>
    public override string ToString() => $"{Field}: {Describe(field => field)}";
}
