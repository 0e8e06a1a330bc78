using System.Globalization;
using System.Text;
using Akka.Configuration.Hocon;

namespace LifelongMoE.Host.Configuration;

/// <summary>
/// Writes a parsed HOCON value back as HOCON that parses to the same value. (Akka's own ToString prints
/// an empty list as "&lt;&lt;unknown value&gt;&gt;".) Numbers and booleans are written bare, every other
/// scalar quoted.
/// </summary>
internal static class HoconText
{
    public static string Section(string name, HoconValue value)
    {
        var sb = new StringBuilder();
        sb.Append(name).Append(' ');
        Write(sb, value, 0);
        sb.AppendLine();
        return sb.ToString();
    }

    private static void Write(StringBuilder sb, HoconValue value, int depth)
    {
        if (value.IsObject())
        {
            sb.AppendLine("{");
            foreach (var (key, child) in value.GetObject().Items)
            {
                sb.Append(' ', 2 * (depth + 1)).Append(Key(key)).Append(child.IsObject() ? " " : " = ");
                Write(sb, child, depth + 1);
                sb.AppendLine();
            }

            sb.Append(' ', 2 * depth).Append('}');
        }
        else if (value.IsArray())
        {
            sb.Append('[');
            var items = value.GetArray();
            for (int i = 0; i < items.Count; i++)
            {
                if (i > 0) sb.Append(", ");
                Write(sb, items[i], depth + 1);
            }

            sb.Append(']');
        }
        else if (!value.IsString())
        {
            sb.Append("[]");        // Akka's parser reports an empty list as neither a list nor a string
        }
        else
        {
            sb.Append(Scalar(value.GetString() ?? ""));
        }
    }

    private static string Key(string key) =>
        key.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_') && key.Length > 0 ? key : Quote(key);

    private static string Scalar(string s)
    {
        bool number = double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out _)
                      && !s.StartsWith('+') && !s.EndsWith('.');
        return number || s is "true" or "false" ? s : Quote(s);
    }

    private static string Quote(string s) =>
        "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n") + "\"";
}
