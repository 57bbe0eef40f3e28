using System.CommandLine;
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
            var outDir = r.GetValue(output)!.FullName;
            var commandLine = "maskbit " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1).Select(a => a.Contains(' ') ? $"\"{a}\"" : a));
            long total = (long)options.Epochs * (train.Count / options.BatchSize);
            var result = Progress.Run($"training the classifier on {train.Count:N0} images", total, advance =>
                ClassifierTrainer.TrainToFolder(train, test, options, outDir, commandLine, Console.WriteLine, (_, _) => advance(1)));
            Console.WriteLine($"test accuracy {result.Accuracy:P2} on {test.Count:N0} images ({result.Minutes:F1} min); wrote {outDir}");
            return 0;
        });
        return cmd;
    }
}
