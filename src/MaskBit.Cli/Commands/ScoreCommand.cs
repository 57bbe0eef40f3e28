using System.CommandLine;
using System.Globalization;
using MaskBit.Data;
using MaskBit.Evaluation;
using Spectre.Console;

namespace MaskBit.Cli.Commands;

/// <summary>
/// <c>maskbit score DIR</c>: judges class-conditional samples with a classifier trained on the real data (default: the
/// bundled Fashion-MNIST one): accuracy against the requested class, and the Fréchet distance of the classifier's features
/// to the reference split next to the floor (as many real images of each class from the training split), per class and
/// overall.
/// </summary>
public static class ScoreCommand
{
    public static Command Create()
    {
        var samples = new Argument<DirectoryInfo>("samples") { Description = "Sample folder: <n>_<class index>_<name>.png files (generate --save-individual) or one sub-folder per class (index or name)" };
        var classifier = new Option<DirectoryInfo?>("--classifier") { Description = "Classifier folder (maskbit train-classifier); default: the bundled Fashion-MNIST classifier" };
        var reference = new Option<string>("--reference") { Description = "Real images the samples are compared with (evaluation split)", DefaultValueFactory = _ => Datasets.FashionMnistScheme };
        var floor = new Option<string?>("--floor-data") { Description = "Real images for the floor (training split; default: that of --reference)" };
        var seed = SharedOptions.Seed("Seed of the floor's draw of real images");
        var noVerify = new Option<bool>("--no-verify") { Description = "Load the classifier folder without checking SHA256SUMS" };
        var json = SharedOptions.Json("the result");

        var cmd = new Command("score", "Score class-conditional samples with a classifier: accuracy against the requested class and a Fréchet distance with its real-data floor.");
        cmd.Arguments.Add(samples);
        foreach (var o in new Option[] { classifier, reference, floor, seed, noVerify, json }) cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            using var folder = ClassifierFolder.Load(r.GetValue(classifier)?.FullName ?? BundledModels.Classifier, r.GetValue(noVerify));
            var sampleSet = SampleScorer.ListSamples(r.GetValue(samples)!.FullName, folder.Classes);
            var referenceSpec = r.GetValue(reference)!;
            var referenceSet = Datasets.Open(referenceSpec, DataSplit.Eval);
            var floorSet = Datasets.Open(r.GetValue(floor) ?? referenceSpec, DataSplit.Train);
            if (referenceSet.ClassNames.Count != folder.Model.NumClasses)
                throw new ArgumentException($"{referenceSet.Source} has {referenceSet.ClassNames.Count} classes, the classifier {folder.Model.NumClasses}");
            var report = Progress.Run($"scoring {sampleSet.Count:N0} sample(s)", 1.0, advance =>
            {
                double last = 0;
                return SampleScorer.Score(folder.Model, sampleSet, referenceSet, floorSet, r.GetValue(seed), onProgress: p => { advance(p - last); last = p; });
            });

            var table = new Table().AddColumns("class", "samples", "classified as requested", "Fréchet distance", "floor");
            foreach (var column in table.Columns.Skip(1)) column.RightAligned();
            foreach (var c in report.PerClass)
                table.AddRow($"{c.Label} {Markup.Escape(c.Name)}", $"{c.Count:N0}", $"{c.Accuracy:P1}", Distance(c.FrechetDistance), Distance(c.Floor));
            table.AddRow("all", $"{report.Count:N0}", $"{report.Accuracy:P1}", Distance(report.FrechetDistance), Distance(report.Floor));
            AnsiConsole.Write(table);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Fréchet distance (classifier features) to {report.ReferenceCount:N0} images of {report.Reference}: {report.FrechetDistance:F3}; floor ({report.Count:N0} real images of the same classes, {report.FloorSource}): {report.Floor:F3}; ratio {report.FloorRatio:F2}"));
            if (r.GetValue(json))
                Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(new
                {
                    samples = report.Count,
                    accuracy = report.Accuracy,
                    frechet_distance = report.FrechetDistance,
                    floor = report.Floor,
                    floor_ratio = report.FloorRatio,
                    per_class = report.PerClass.ToDictionary(c => c.Name, c => new { accuracy = c.Accuracy, frechet_distance = OrNull(c.FrechetDistance), floor = OrNull(c.Floor) }),
                }));
            return 0;
        });
        return cmd;
    }

    // Distances in the invariant culture; a class with one sample has none (NaN): "-" in the table, null in the JSON.
    static string Distance(double d) => double.IsNaN(d) ? "-" : d.ToString("F2", CultureInfo.InvariantCulture);
    static double? OrNull(double d) => double.IsNaN(d) ? null : d;
}
