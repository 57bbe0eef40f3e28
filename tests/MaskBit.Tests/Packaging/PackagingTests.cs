using System.Diagnostics;
using System.Reflection;
using MaskBit.Imaging;

namespace MaskBit.Tests.Packaging;

/// <summary>
/// The packages as a user gets them: <c>dotnet pack</c> makes the library (MaskBit) and the tool (MaskBit.Cli); a
/// console program built against the library package from that folder generates images from the golden tiny
/// checkpoints through the pipeline (its code is the README's library example), and the tool installs and runs.
/// Slow (packs and restores libtorch): its own category.
/// </summary>
[Trait("Category", "Packaging")]
public class PackagingTests
{
    static string Version => typeof(MaskBit.Pipeline.MaskBitPipeline).Assembly.GetName().Version is { } v ? $"{v.Major}.{v.Minor}.{v.Build}" : "0.0.0";
    static string Configuration => typeof(PackagingTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";
    static string ExampleSource => Path.Combine(Golden.RepoRoot, "tests", "MaskBit.Tests", "Packaging", "LibraryExample", "Program.cs");

    [Fact]
    public void TheReadmeLibraryExampleIsTheCodeThePackageTestCompiles()
    {
        var readme = File.ReadAllText(Path.Combine(Golden.RepoRoot, "README.md")).ReplaceLineEndings("\n");
        var example = File.ReadAllText(ExampleSource).ReplaceLineEndings("\n");
        Assert.Contains("```csharp\n" + example + "```", readme);
    }

    [Fact]
    public void PackagesBuildInstallAndRun()
    {
        var tmp = Path.Combine(Path.GetTempPath(), "maskbit-pack-" + Guid.NewGuid().ToString("N"));
        try
        {
            var feed = Path.Combine(tmp, "feed");
            // Packed in the configuration the tests were built in (Debug under a plain dotnet test), built if need be:
            // the test run built both projects already, so that is an up-to-date check.
            Run(Golden.RepoRoot, "dotnet", "pack", "src/MaskBit", "-c", Configuration, "-o", feed);
            Run(Golden.RepoRoot, "dotnet", "pack", "src/MaskBit.Cli", "-c", Configuration, "-o", feed);
            Assert.True(File.Exists(Path.Combine(feed, $"MaskBit.{Version}.nupkg")), $"no MaskBit.{Version}.nupkg in {feed}");
            // NuGet restores a version it has extracted once from its global folder, never again from the feed: without
            // this, a machine that ran the test before would build the example against the library as it was then.
            ForgetCachedPackages("maskbit", "maskbit.cli");

            // A console program against the library package from the folder.
            var app = Path.Combine(tmp, "app");
            Directory.CreateDirectory(app);
            File.WriteAllText(Path.Combine(app, "app.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <ImplicitUsings>enable</ImplicitUsings>
                    <Nullable>enable</Nullable>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="MaskBit" Version="{Version}" />
                  </ItemGroup>
                </Project>
                """);
            File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <add key="maskbit-local" value="{feed}" />
                  </packageSources>
                </configuration>
                """);
            File.Copy(ExampleSource, Path.Combine(app, "Program.cs"));
            var png = Path.Combine(tmp, "samples.png");
            var output = Run(app, "dotnet", "run", "-c", "Release", "--",
                Path.Combine(Golden.RepoRoot, "configs", "presets", "tiny_generator.yaml"),
                Path.Combine(Golden.RepoCopy, "tokenizer_lfq_small", "model.bin"),
                Path.Combine(Golden.RepoCopy, "generator_lfqbert_small", "model.bin"), png);
            Assert.Contains("2 images, tokens [2, 64] < 1024", output);
            var strip = Images.Read(png);
            Assert.Equal((64, 32), (strip.Width, strip.Height)); // two 32x32 images side by side

            // The tool, installed into a temporary tool path.
            var tools = Path.Combine(tmp, "tools");
            Run(tmp, "dotnet", "tool", "install", "MaskBit.Cli", "--tool-path", tools, "--add-source", feed, "--version", Version);
            var help = Run(tmp, Path.Combine(tools, "maskbit"), "--help");
            Assert.Contains("generate", help);
            Assert.Contains("export", help);
            var bundled = Path.Combine(tmp, "bundled.png");
            Run(tmp, Path.Combine(tools, "maskbit"), "generate", "-n", "1", "-o", bundled);
            Assert.Equal(10 * 32, Images.Read(bundled).Height); // the bundled model travels with the tool: a row per class
        }
        finally
        {
            try { Directory.Delete(tmp, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>Deletes this version of the packages from NuGet's global packages folder (and only that).</summary>
    static void ForgetCachedPackages(params string[] ids)
    {
        var listing = Run(Golden.RepoRoot, "dotnet", "nuget", "locals", "global-packages", "--list");
        var folder = listing[(listing.IndexOf(':') + 1)..].Trim();
        foreach (var id in ids)
        {
            var cached = Path.Combine(folder, id, Version);
            if (Directory.Exists(cached)) Directory.Delete(cached, recursive: true);
        }
    }

    static string Run(string workingDirectory, string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(10))) { process.Kill(entireProcessTree: true); Assert.Fail($"{file} {string.Join(' ', args)}: timed out"); }
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', args)} exited {process.ExitCode}:\n{stdout.Result}\n{stderr.Result}");
        return stdout.Result;
    }
}
