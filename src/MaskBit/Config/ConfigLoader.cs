using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace MaskBit.Config;

/// <summary>
/// Loads a config as the original's training scripts do (fidelity 9.1): the YAML file, then dotted command-line
/// overrides <c>a.b.c=value</c> merged over it (values YAML-typed), then <c>${a.b.c}</c> interpolation over the
/// merged tree, then binding onto <see cref="ExperimentConfig"/>. Unlike OmegaConf an override may only name
/// a key of the schema, so a typo fails early with a did-you-mean suggestion.
/// </summary>
public static class ConfigLoader
{
    const string CommandLine = "command line";

    public static ExperimentConfig Load(string yamlPath, IEnumerable<string>? overrides = null) =>
        File.Exists(yamlPath)
            ? LoadFromString(File.ReadAllText(yamlPath), overrides, yamlPath)
            : throw new ConfigException($"{yamlPath}: config file not found");

    /// <param name="source">Names the text in error messages (the file path for <see cref="Load"/>).</param>
    public static ExperimentConfig LoadFromString(string yaml, IEnumerable<string>? overrides = null, string source = "<string>")
    {
        var root = Parse(yaml, source);
        var overridden = (overrides ?? []).Select(o => Override(root, o)).ToList();
        ConfigException Error(string key, string problem) =>
            new($"{(overridden.Any(o => key.StartsWith(o) && (key.Length == o.Length || key[o.Length] is '.' or '[')) ? CommandLine : source)}: {key}: {problem}");
        InterpolationResolver.ResolveAll(root, Error);
        return ConfigSchema.Bind<ExperimentConfig>(root, Error);
    }

    static YamlMappingNode Parse(string yaml, string source)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            throw new ConfigException($"{source}: invalid YAML at line {e.Start.Line}: {e.Message}");
        }
        return stream.Documents.FirstOrDefault()?.RootNode as YamlMappingNode
            ?? throw new ConfigException($"{source}: expected a mapping of sections at the top level");
    }

    // Merges one `a.b.c=value` into the tree and returns its key.
    static string Override(YamlMappingNode root, string text)
    {
        var split = text.IndexOf('=');
        var key = split > 0 ? text[..split] : throw new ConfigException($"{CommandLine}: '{text}': expected key.path=value");
        var path = key.Split('.');
        ConfigException Error(string k, string problem) => new($"{CommandLine}: {k}: {problem}");
        if (path.Any(string.IsNullOrWhiteSpace)) throw Error(key, "empty key name");
        ConfigSchema.CheckPath(typeof(ExperimentConfig), path, Error);
        Set(root, path, Value(text[(split + 1)..], key), Error);
        return key;
    }

    // The right-hand side as a YAML value; an empty one is the empty string (as OmegaConf's `key=`).
    static YamlNode Value(string text, string key)
    {
        if (text.Length == 0) return new YamlScalarNode("") { Style = ScalarStyle.DoubleQuoted };
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new ConfigException($"{CommandLine}: {key}: invalid value '{text}': {e.Message}");
        }
        return stream.Documents[0].RootNode;
    }

    // A mapping value merges key by key into the section (as OmegaConf.merge); anything else replaces.
    static void Set(YamlMappingNode section, string[] path, YamlNode value, ConfigError error)
    {
        var name = new YamlScalarNode(path[0]);
        if (path.Length == 1 && value is not YamlMappingNode)
        {
            section.Children[name] = value;
            return;
        }
        if (!section.Children.TryGetValue(name, out var child) || child is not YamlMappingNode inner)
            section.Children[name] = inner = new YamlMappingNode();
        if (path.Length > 1)
            Set(inner, path[1..], value, error);
        else
            foreach (var (k, v) in ((YamlMappingNode)value).Children)
                Set(inner, [ConfigSchema.KeyName(k, path[0], error)], v, error);
    }
}
