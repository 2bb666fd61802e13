using System.Text;

namespace KvmSharp.Machine.Config;

/// <summary>
/// One mistake in a <see cref="MachineConfig"/>. <paramref name="Field"/> is the JSON path of the value that is wrong
/// (<c>memory_size</c>, <c>disks[1].path</c>); <paramref name="Message"/> reads after the field's name and may name
/// another field as <c>{json_path}</c>, so that each front end (a config file, the CLI's flags, the API) can say
/// both in its own words through <see cref="Describe"/>. A value quoted in a message goes through <see cref="Escape"/>,
/// as in a format string, so a brace in a file name is not taken for a field.
/// </summary>
public sealed record ConfigProblem(string Field, string Message)
{
    /// <summary><paramref name="value"/> with its braces doubled, to quote it in a <see cref="Message"/>.</summary>
    public static string Escape(string value) => value.Replace("{", "{{", StringComparison.Ordinal).Replace("}", "}}", StringComparison.Ordinal);

    /// <summary>The message with each <c>{field}</c> written as <paramref name="nameOf"/> gives it, and <c>{{</c>, <c>}}</c> as one brace.</summary>
    public string Describe(Func<string, string> nameOf)
    {
        var text = new StringBuilder(Message.Length);
        for (int i = 0; i < Message.Length; i++)
        {
            char c = Message[i];
            if ((c == '{' || c == '}') && i + 1 < Message.Length && Message[i + 1] == c)
            {
                text.Append(c);
                i++;
            }
            else if (c == '{' && Message.IndexOf('}', i) is > 0 and var close)
            {
                text.Append(nameOf(Message[(i + 1)..close]));
                i = close;
            }
            else
            {
                text.Append(c);
            }
        }
        return text.ToString();
    }

    /// <summary>In the config file's words: "memory_size: must be between …".</summary>
    public override string ToString() => $"{Field}: {Describe(field => field)}";
}
