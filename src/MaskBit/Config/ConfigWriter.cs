using System.Globalization;
using System.Text;

namespace MaskBit.Config;

/// <summary>
/// Writes a config back as YAML with the original key names: every key of every present section (defaults
/// included), so a run's <c>config.yaml</c> records exactly what it used. Interpolations are written resolved.
/// </summary>
public static class ConfigWriter
{
    public static string ToYaml(ExperimentConfig config)
    {
        var text = new StringBuilder();
        Section(text, config, 0);
        return text.ToString();
    }

    /// <summary>Writes the YAML atomically (a reader never sees half a file; the previous version survives a crash).</summary>
    public static void Save(ExperimentConfig config, string path) => Interop.AtomicFile.WriteAllText(path, ToYaml(config));

    static void Section(StringBuilder text, object section, int indent)
    {
        foreach (var (key, property, inline) in ConfigSchema.Properties(section.GetType()))
        {
            var value = ConfigSchema.GetValue(section, property, inline);
            var isSection = ConfigSchema.IsSection(property.PropertyType);
            if (isSection && value is null) continue; // absent section
            text.Append(' ', indent).Append(key).Append(':');
            if (isSection)
            {
                text.AppendLine();
                Section(text, value!, indent + 2);
            }
            else
                text.Append(' ').AppendLine(Scalar(value));
        }
    }

    static string Scalar(object? value) => value switch
    {
        null => "null",
        string s => Quote(s),
        bool b => b ? "true" : "false",
        int i => i.ToString(CultureInfo.InvariantCulture),
        double d => Number(d),
        Array a => "[" + string.Join(", ", a.Cast<object>().Select(Scalar)) + "]",
        _ => throw new NotSupportedException($"config value of type {value.GetType().Name}"),
    };

    // Shortest round-trip text, written so YAML reads it back as a float: 1.0, 0.0001, 1e-08.
    static string Number(double d)
    {
        var s = d.ToString("R", CultureInfo.InvariantCulture).Replace("E", "e");
        return s.Contains('.') || s.Contains('e') ? s : s + ".0";
    }

    static string Quote(string s) =>
        "\"" + string.Concat(s.Select(c => c switch { '"' => "\\\"", '\\' => "\\\\", < ' ' => $"\\x{(int)c:x2}", _ => c.ToString() })) + "\"";
}
