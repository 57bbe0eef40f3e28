namespace MaskBit.Cli;

/// <summary>
/// The original's YAML configs and the presets, copied next to the <c>maskbit</c> executable by the build (and so into
/// the .NET tool package), so defaults that name a config work from any current directory.
/// </summary>
static class ShippedConfigs
{
    public static string Path(string relative) => System.IO.Path.Combine(AppContext.BaseDirectory, "configs", relative);
}
