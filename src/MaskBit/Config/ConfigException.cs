namespace MaskBit.Config;

/// <summary>A config that cannot be loaded; the one-line message names the source (file or command line) and the dotted key.</summary>
public sealed class ConfigException(string message) : Exception(message);
