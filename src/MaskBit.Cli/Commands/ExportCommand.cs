using System.CommandLine;
using MaskBit.Generation;
using MaskBit.Pipeline;
using static TorchSharp.torch;

namespace MaskBit.Cli.Commands;

/// <summary>
/// <c>maskbit export</c>: a config plus weight files (the released <c>.bin</c> files, or any checkpoint the loaders
/// read) -> a model folder (<see cref="ModelFolder"/>), checked by loading it back.
/// </summary>
public static class ExportCommand
{
    public static Command Create()
    {
        var config = new ConfigOptions("Config YAML of the models (e.g. configs/generator/maskbit_generator_14bit.yaml)", required: true, setNote: "stored in the folder's config.yaml");
        var tokenizer = new Option<string?>("--tokenizer", "--checkpoint") { Description = "Tokenizer weights; default: experiment.vqgan_checkpoint" };
        var generator = new Option<string?>("--generator", "-g") { Description = "Generator weights (omit for a tokenizer-only folder)" };
        var classes = new Option<FileInfo?>("--classes-file") { Description = "Class names, one per line (default: ImageNet's, written nowhere)" };
        var card = new Option<FileInfo?>("--card") { Description = "Model card (Markdown) to store as README.md (default: a generated one)" };
        var output = new Option<DirectoryInfo>("--output", "-o") { Description = "Model folder to create (must not exist or be empty)", Required = true };

        var cmd = new Command("export", "Turn a config and weight files (e.g. the released .bin files) into a model folder.");
        config.AddTo(cmd);
        foreach (var o in new Option[] { tokenizer, generator, classes, card, output }) cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            var dest = r.GetValue(output)!.FullName;
            var cfg = config.Require(r);
            var tokenizerPath = r.GetValue(tokenizer) ?? cfg.Experiment?.VqganCheckpoint
                ?? throw new ArgumentException("no tokenizer weights: pass --tokenizer or set experiment.vqgan_checkpoint");
            var names = r.GetValue(classes) is { } file ? ClassNames.Read(file.FullName) : null;
            var cardText = r.GetValue(card) is { } c ? File.ReadAllText(c.FullName) : null;
            using (var pipeline = MaskBitPipeline.Load(cfg, tokenizerPath, r.GetValue(generator), CPU, names))
                pipeline.Save(dest, cardText);
            using (var check = MaskBitPipeline.FromFolder(dest))
                Console.WriteLine($"wrote model folder {dest} (tokenizer {check.CodebookSize} codes{(check.Generator is null ? "" : $", generator of {check.Classes.Count} classes")})");
            return 0;
        });
        return cmd;
    }
}
