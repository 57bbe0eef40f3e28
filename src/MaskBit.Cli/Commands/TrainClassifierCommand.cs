using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using MaskBit.Data;
using MaskBit.Evaluation;
using MaskBit.Training;

namespace MaskBit.Cli.Commands;

/// <summary>
/// <c>maskbit train-classifier</c>: trains the <see cref="SampleClassifier"/> that <c>maskbit score</c> judges samples
/// with, and writes it as a classifier folder with its card (command, test accuracy, time, machine).
/// </summary>
public static class TrainClassifierCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "Training data: fashion-mnist[:FOLDER], tar shards or an image folder", DefaultValueFactory = _ => Datasets.FashionMnistScheme };
        var evalData = new Option<string?>("--eval-data") { Description = "Test data (default: the evaluation split of --data; Fashion-MNIST's t10k files)" };
        var output = new Option<DirectoryInfo>("--output", "-o") { Description = "Classifier folder to create", Required = true };
        var epochs = new Option<int>("--epochs") { Description = "Passes over the training data", DefaultValueFactory = _ => new ClassifierTrainingOptions().Epochs };
        var batchSize = new Option<int>("--batch-size") { Description = "Images per step", DefaultValueFactory = _ => new ClassifierTrainingOptions().BatchSize };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate (AdamW, cosine schedule)", DefaultValueFactory = _ => new ClassifierTrainingOptions().LearningRate };
        var seed = SharedOptions.Seed("Random seed (weights, order, flips, dropout)");
        var resolution = new Option<int>("--resolution") { Description = "Input size the images are resized to (that of the generator's samples)", DefaultValueFactory = _ => new ClassifierTrainingOptions().Resolution };

        var cmd = new Command("train-classifier", "Train the small CNN that `maskbit score` judges class-conditional samples with.");
        foreach (var o in new Option[] { data, evalData, output, epochs, batchSize, lr, seed, resolution }) cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            var outDir = r.GetValue(output)!.FullName;
            if (Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any())
                throw new IOException($"{outDir}: folder exists and is not empty (nothing is overwritten; choose another output)");
            var spec = r.GetValue(data)!;
            var train = Datasets.Open(spec, DataSplit.Train);
            var test = Datasets.Open(r.GetValue(evalData) ?? spec, DataSplit.Eval);
            var options = new ClassifierTrainingOptions
            {
                Epochs = CliChecks.Positive(r.GetValue(epochs), "--epochs"),
                BatchSize = CliChecks.Positive(r.GetValue(batchSize), "--batch-size"),
                LearningRate = r.GetValue(lr),
                Seed = r.GetValue(seed),
                Resolution = CliChecks.Positive(r.GetValue(resolution), "--resolution"),
            };
            var clock = Stopwatch.StartNew();
            var log = new List<string>();
            long total = (long)options.Epochs * (train.Count / options.BatchSize);
            double accuracy = double.NaN;
            using var model = Progress.Run($"training the classifier on {train.Count:N0} images", total, advance =>
                ClassifierTrainer.Train(train, test, options, out accuracy, line => { log.Add(line); Console.WriteLine(line); }, (_, _) => advance(1)));
            var minutes = clock.Elapsed.TotalMinutes;
            ClassifierFolder.Save(outDir, model, train.ClassNames, Card(Environment.GetCommandLineArgs(), train, test, options, accuracy, minutes, log));
            Console.WriteLine($"test accuracy {accuracy:P2} on {test.Count:N0} images ({minutes:F1} min); wrote {outDir}");
            return 0;
        });
        return cmd;
    }

    static string Card(string[] args, IImageDataset train, IImageDataset test, ClassifierTrainingOptions o, double accuracy, double minutes, List<string> log)
    {
        var inv = CultureInfo.InvariantCulture;
        bool fashion = train is IdxDataset;
        string[] lines =
        [
            $"# Sample classifier ({train.ClassNames.Count} classes, {o.Resolution}x{o.Resolution})",
            "",
            "The small CNN (`SampleClassifier`) that `maskbit score` uses to judge class-conditional samples: accuracy against",
            "the requested class, and a Fréchet distance on its 128-d penultimate features.",
            "",
            "## Data",
            fashion ? "Fashion-MNIST (Zalando SE, MIT licence: https://github.com/zalandoresearch/fashion-mnist), from Debian's `dataset-fashion-mnist`." : $"Training: {train.Source}.",
            $"{train.Count:N0} training images (resized to {o.Resolution}x{o.Resolution}, bilinear; random horizontal flips); accuracy on the {test.Count:N0} images of {test.Source}.",
            "",
            "## Training",
            "```bash",
            "maskbit " + string.Join(' ', args.Skip(1).Select(a => a.Contains(' ') ? $"\"{a}\"" : a)),
            "```",
            string.Create(inv, $"{o.Epochs} epochs, batch {o.BatchSize}, AdamW (lr {o.LearningRate}, weight decay {o.WeightDecay}), cosine schedule after {o.WarmupSteps} warm-up steps, seed {o.Seed}."),
            string.Create(inv, $"{minutes:F1} minutes on {MachineInfo.Describe()} (CPU libtorch, fp32)."),
            "",
            "## Metrics",
            string.Create(inv, $"Test accuracy **{accuracy:P2}**."),
            "",
            "```",
            .. log,
            "```",
            "",
        ];
        return string.Join('\n', lines);
    }
}
