using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace MaskBit.Config;

/// <summary>
/// Marks a record-typed config property whose keys live in the enclosing YAML section rather than in a section of
/// their own: <c>model.mlm_model</c> holds the generator's architecture and its sampling knobs side by side, and the
/// knobs bind to <see cref="MaskBit.Generation.SamplingOptions"/>.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class ConfigInlineAttribute : Attribute;

/// <summary>Builds a <see cref="ConfigException"/> for a dotted key (the caller knows which source the key came from).</summary>
internal delegate ConfigException ConfigError(string key, string problem);

/// <summary>
/// The config records seen as a schema: YAML key <c>snake_case</c> &lt;-&gt; property <c>PascalCase</c>, found by
/// reflection; binding a YAML tree onto the records, with every mismatch reported by dotted key.
/// </summary>
internal static class ConfigSchema
{
    /// <summary>
    /// The YAML keys of a config record, in declaration order: each settable property, except that a property marked
    /// <see cref="ConfigInlineAttribute"/> contributes its own record's keys to this section (<c>Inline</c> is then
    /// that property, and <c>Property</c> belongs to its record).
    /// </summary>
    public static IEnumerable<(string Key, PropertyInfo Property, PropertyInfo? Inline)> Properties(Type record)
    {
        foreach (var p in record.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                     .Where(p => p.SetMethod is not null).OrderBy(p => p.MetadataToken))
        {
            if (p.IsDefined(typeof(ConfigInlineAttribute)))
                foreach (var (key, inner, _) in Properties(p.PropertyType)) yield return (key, inner, p);
            else
                yield return (SnakeCase(p.Name), p, null);
        }
    }

    /// <summary>The value of a key of <see cref="Properties"/> in a bound record.</summary>
    public static object? GetValue(object section, PropertyInfo property, PropertyInfo? inline) =>
        property.GetValue(inline is null ? section : inline.GetValue(section)!);

    /// <summary>ChannelMult -> channel_mult, EnableTf32 -> enable_tf32.</summary>
    public static string SnakeCase(string pascal) =>
        string.Concat(pascal.Select((c, i) => char.IsUpper(c) ? (i > 0 ? "_" : "") + char.ToLowerInvariant(c) : c.ToString()));

    /// <summary>A record type that maps to a YAML section (as opposed to a scalar or a list).</summary>
    public static bool IsSection(Type type) => type.IsClass && type != typeof(string) && !type.IsArray;

    public static string Join(string parent, string key) => parent.Length == 0 ? key : $"{parent}.{key}";

    /// <summary>Throws unless <paramref name="path"/> (dotted key split at the dots) names a key below <paramref name="root"/>.</summary>
    public static void CheckPath(Type root, string[] path, ConfigError error)
    {
        var type = root;
        for (var i = 0; i < path.Length; i++)
        {
            var parent = string.Join('.', path[..i]);
            if (!IsSection(type)) throw error(string.Join('.', path), $"'{parent}' is a value, not a section");
            var property = Properties(type).FirstOrDefault(p => p.Key == path[i]).Property
                ?? throw error(string.Join('.', path), "unknown key" + Suggestion(type, path[i], parent));
            type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
        }
    }

    /// <summary>Binds a YAML mapping onto a new <typeparamref name="T"/>.</summary>
    public static T Bind<T>(YamlMappingNode root, ConfigError error) => (T)Section(typeof(T), root, "", error);

    public static string KeyName(YamlNode key, string parent, ConfigError error) =>
        key is YamlScalarNode { Value: { } name } ? name : throw error(parent, $"expected plain key names, got {Show(key)}");

    static object Section(Type type, YamlMappingNode node, string key, ConfigError error)
    {
        var properties = Properties(type).ToDictionary(p => p.Key);
        var record = Activator.CreateInstance(type)!;
        // Inline records are built alongside and set on the section at the end (their properties are init-only).
        var inlines = properties.Values.Select(p => p.Inline).OfType<PropertyInfo>().Distinct()
            .ToDictionary(p => p, p => p.GetValue(record) ?? Activator.CreateInstance(p.PropertyType)!);
        var seen = new HashSet<string>();
        foreach (var (keyNode, valueNode) in node.Children)
        {
            var name = KeyName(keyNode, key, error);
            var childKey = Join(key, name);
            if (!properties.TryGetValue(name, out var p)) throw error(childKey, "unknown key" + Suggestion(type, name, key));
            var nullable = new NullabilityInfoContext().Create(p.Property).WriteState == NullabilityState.Nullable;
            p.Property.SetValue(p.Inline is null ? record : inlines[p.Inline], Value(p.Property.PropertyType, nullable, valueNode, childKey, error));
            seen.Add(name);
        }
        foreach (var (inline, value) in inlines) inline.SetValue(record, value);
        var missing = properties.FirstOrDefault(p => p.Value.Property.IsDefined(typeof(RequiredMemberAttribute)) && !seen.Contains(p.Key)).Key;
        return missing is null ? record : throw error(Join(key, missing), "missing required key");
    }

    static object? Value(Type type, bool nullable, YamlNode node, string key, ConfigError error)
    {
        var target = Nullable.GetUnderlyingType(type) ?? type;
        if (node is YamlScalarNode { Style: ScalarStyle.Plain, Value: null or "" or "~" or "null" or "Null" or "NULL" })
            return nullable ? null : throw error(key, $"expected {Describe(target)}, got null");
        if (IsSection(target))
            return node is YamlMappingNode mapping ? Section(target, mapping, key, error) : throw error(key, $"expected a section, got {Show(node)}");
        if (target.IsArray)
        {
            if (node is not YamlSequenceNode list) throw error(key, $"expected a list, got {Show(node)}");
            var element = target.GetElementType()!;
            var array = Array.CreateInstance(element, list.Children.Count);
            for (var i = 0; i < array.Length; i++) array.SetValue(Value(element, false, list.Children[i], $"{key}[{i}]", error), i);
            return array;
        }
        var text = node is YamlScalarNode scalar ? scalar.Value! : throw error(key, $"expected {Describe(target)}, got {Show(node)}");
        return Parse(target, text) ?? throw error(key, $"expected {Describe(target)}, got '{text}'");
    }

    // YAML-typed scalars as OmegaConf reads them: `1_350_000` is an int, `1e-4` a float, True/False booleans.
    static object? Parse(Type type, string text)
    {
        var number = text.Replace("_", "");
        if (type == typeof(string)) return text;
        if (type == typeof(int)) return int.TryParse(number, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var i) ? i : null;
        if (type == typeof(double)) return double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) ? d : null;
        if (type == typeof(bool)) return text switch { "true" or "True" or "TRUE" => true, "false" or "False" or "FALSE" => false, _ => null };
        throw new NotSupportedException($"config property type {type.Name}");
    }

    static string Describe(Type type) =>
        type == typeof(int) ? "an integer" : type == typeof(double) ? "a number" : type == typeof(bool) ? "true or false"
        : type == typeof(string) ? "a string" : type.IsArray ? "a list" : "a section";

    static string Show(YamlNode node) => node switch
    {
        YamlScalarNode s => $"'{s.Value}'",
        YamlSequenceNode => "a list",
        _ => "a section",
    };

    // " (did you mean 'a.b'?)" for the closest key of the section, else the list of its keys.
    static string Suggestion(Type section, string key, string parent)
    {
        var keys = Properties(section).Select(p => p.Key).ToList();
        var best = Spelling.Closest(keys, key);
        return best is not null
            ? $" (did you mean '{Join(parent, best)}'?)"
            : $" (keys of {(parent.Length == 0 ? "the root" : $"'{parent}'")}: {string.Join(", ", keys)})";
    }
}
