using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace MaskBit.Config;

/// <summary>
/// OmegaConf-style <c>${a.b.c}</c> references, resolved against the whole (merged) tree. A value that is
/// exactly one reference takes the target's node (so <c>${optimizer.params.learning_rate}</c> stays a number);
/// references inside longer text are replaced by the target's text.
/// </summary>
internal sealed partial class InterpolationResolver(YamlMappingNode root, ConfigError error)
{
    [GeneratedRegex(@"\$\{([^${}]*)\}")]
    private static partial Regex Reference();

    readonly List<string> resolving = [];

    /// <summary>Replaces every reference in <paramref name="root"/> by its value.</summary>
    public static void ResolveAll(YamlMappingNode root, ConfigError error) => new InterpolationResolver(root, error).Resolve(root, "");

    // Returns the node with its references resolved; mappings and lists are updated in place.
    YamlNode Resolve(YamlNode node, string key)
    {
        switch (node)
        {
            case YamlMappingNode mapping:
                foreach (var child in mapping.Children.Keys.ToList())
                    mapping.Children[child] = Resolve(mapping.Children[child], ConfigSchema.Join(key, ConfigSchema.KeyName(child, key, error)));
                return mapping;
            case YamlSequenceNode list:
                for (var i = 0; i < list.Children.Count; i++) list.Children[i] = Resolve(list.Children[i], $"{key}[{i}]");
                return list;
            case YamlScalarNode { Value: { } text } when Reference().IsMatch(text):
                if (resolving.Contains(key))
                    throw error(key, $"interpolation cycle {string.Join(" -> ", resolving.SkipWhile(k => k != key).Append(key))}");
                resolving.Add(key);
                var whole = Reference().Match(text);
                var resolved = whole.Length == text.Length
                    ? Target(whole.Groups[1].Value, key)
                    : new YamlScalarNode(Reference().Replace(text, m => Target(m.Groups[1].Value, key) is YamlScalarNode { Value: { } value }
                        ? value : throw error(key, $"${{{m.Groups[1].Value}}} inside text must name a single value"))) { Style = ScalarStyle.DoubleQuoted };
                resolving.RemoveAt(resolving.Count - 1);
                return resolved;
            default:
                return node;
        }
    }

    YamlNode Target(string path, string key)
    {
        YamlNode node = root;
        foreach (var name in path.Split('.'))
            node = node is YamlMappingNode mapping && mapping.Children.TryGetValue(new YamlScalarNode(name), out var child)
                ? child : throw error(key, $"interpolation ${{{path}}} names a missing key");
        return Resolve(node, path);
    }
}
