using System.Formats.Tar;
using MaskBit.Config;
using MaskBit.Data;
using MaskBit.Imaging;
using MaskBit.Tests.Cli;
using static MaskBit.Tests.Data.DataFixtures;

namespace MaskBit.Tests.Data;

/// <summary>The data-set kinds on tiny fixtures made here: image folder, IDX, tar shards; and how a config picks one.</summary>
public class DatasetTests
{
    // ---- image folder ----

    [Fact]
    public void ImageFolderNumbersClassesBySortedFolderNameAndReadsEveryImage()
    {
        using var tmp = new CliRunner.TempDir();
        var images = ImageFolder(tmp["set"], ("dog", "b"), ("ant", "x"), ("dog", "a"), ("cat", "deep/z"));
        File.WriteAllText(tmp["set/dog/notes.txt"], "not an image");
        ImageFolder(tmp["set/.cache"], ("junk", "j"));                    // hidden folders are no class
        var set = new ImageFolderDataset(tmp["set"]);
        Assert.Equal(new[] { "ant", "cat", "dog" }, set.ClassNames.Entries);
        Assert.Equal(3, ((IImageDataset)set).NumClasses);
        Assert.Equal(4, set.Count);
        var examples = Enumerable.Range(0, set.Count).Select(set.Get).ToList();
        Assert.Equal(new[] { 0, 1, 2, 2 }, examples.Select(e => e.Label));
        Assert.Equal(new[] { "ant/x", "cat/deep/z", "dog/a", "dog/b" }, examples.Select(e => e.Key));
        foreach (var e in examples) Assert.Equal(images[e.Key].Pixels, e.Image.Pixels);
    }

    [Fact]
    public void ImageFolderErrorsAreOneLineAndNameTheFolderOrFile()
    {
        using var tmp = new CliRunner.TempDir();
        var missing = Assert.Throws<DirectoryNotFoundException>(() => new ImageFolderDataset(tmp["nope"]));
        Assert.Contains(tmp["nope"], missing.Message);

        Directory.CreateDirectory(tmp["flat"]);
        File.WriteAllBytes(tmp["flat/a.png"], Images.EncodePng(RandomImage(2, 2, 0)));
        var flat = Assert.Throws<InvalidDataException>(() => new ImageFolderDataset(tmp["flat"]));
        Assert.Contains("no class sub-folders", flat.Message);

        ImageFolder(tmp["gap"], ("a", "1"));
        Directory.CreateDirectory(tmp["gap/b"]);
        var empty = Assert.Throws<InvalidDataException>(() => new ImageFolderDataset(tmp["gap"]));
        Assert.Contains(Path.Combine(tmp["gap"], "b"), empty.Message);

        ImageFolder(tmp["bad"], ("a", "1"));
        File.WriteAllText(tmp["bad/a/2.png"], "not a png");
        var set = new ImageFolderDataset(tmp["bad"]);
        var unreadable = Assert.Throws<InvalidDataException>(() => set.Get(1));
        Assert.Contains(tmp["bad/a/2.png"], unreadable.Message);
        foreach (var e in new Exception[] { missing, flat, empty, unreadable }) OneLine(e);
    }

    // ---- IDX ----

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void IdxRoundTripGivesGrayReplicatedToRgbAndTheLabels(bool gzip)
    {
        using var tmp = new CliRunner.TempDir();
        var pixels = new byte[3 * 4 * 5];
        new Random(7).NextBytes(pixels);
        byte[] Maybe(byte[] b) => gzip ? Gzip(b) : b;
        File.WriteAllBytes(tmp["img"], Maybe(IdxImages(pixels, 3, 4, 5)));
        File.WriteAllBytes(tmp["lab"], Maybe(IdxLabels([2, 0, 1])));
        var set = new IdxDataset(tmp["img"], tmp["lab"], new(["a", "b", "c"], "test"));
        Assert.Equal((3, 4, 5), (set.Count, set.Height, set.Width));
        var e = set.Get(2);
        Assert.Equal((5, 4, 1, "0000002"), (e.Image.Width, e.Image.Height, e.Label, e.Key));
        for (int p = 0; p < 20; p++)
        {
            byte gray = pixels[2 * 20 + p];
            Assert.Equal(new[] { gray, gray, gray }, e.Image.Pixels[(3 * p)..(3 * p + 3)]);
        }
    }

    [Fact]
    public void IdxErrorsNameTheFileAndSayExpectedAndGot()
    {
        using var tmp = new CliRunner.TempDir();
        File.WriteAllBytes(tmp["img"], IdxImages(new byte[2 * 4], 2, 2, 2));
        File.WriteAllBytes(tmp["lab"], IdxLabels([0, 1]));
        File.WriteAllBytes(tmp["short"], IdxImages(new byte[7], 2, 2, 2));
        File.WriteAllBytes(tmp["three"], IdxLabels([0, 1, 1]));
        File.WriteAllBytes(tmp["big"], IdxLabels([0, 5]));
        var names = new MaskBit.Generation.ClassNames(["a", "b"], "test");
        IdxDataset Open(string images, string labels) => new(tmp[images], tmp[labels], names);

        var magic = Assert.Throws<InvalidDataException>(() => Open("lab", "lab"));
        Assert.Equal($"{tmp["lab"]}: expected IDX magic 2051, got 2049", magic.Message);
        var truncated = Assert.Throws<InvalidDataException>(() => Open("short", "lab"));
        Assert.Equal($"{tmp["short"]}: 2 images of 2x2 need 24 bytes, got 23", truncated.Message);
        var count = Assert.Throws<InvalidDataException>(() => Open("img", "three"));
        Assert.StartsWith($"{tmp["three"]}: 3 labels for the 2 images", count.Message);
        var label = Assert.Throws<InvalidDataException>(() => Open("img", "big"));
        Assert.Equal($"{tmp["big"]}: label 5 of record 1 is not below the 2 classes", label.Message);
        var missing = Assert.Throws<FileNotFoundException>(() => IdxDataset.FashionMnist(tmp.Path, DataSplit.Train));
        Assert.Contains("train-images-idx3-ubyte.gz", missing.Message);
        Assert.NotNull(Open("img", "lab")); // the well-formed pair opens
    }

    [Fact]
    public void FashionMnistReadsTrainOrTestFilesWithItsClassNames()
    {
        using var tmp = new CliRunner.TempDir();
        FashionMnistFolder(tmp["fm"], trainCount: 12, testCount: 5);
        var train = IdxDataset.FashionMnist(tmp["fm"], DataSplit.Train);
        var test = IdxDataset.FashionMnist(tmp["fm"], DataSplit.Eval);
        Assert.Equal((12, 5), (train.Count, test.Count));
        Assert.Equal(10, train.ClassNames.Count);
        Assert.Equal(("T-shirt/top", "Ankle boot"), (train.ClassNames.Name(0), train.ClassNames.Name(9)));
        Assert.Equal(1, train.Get(11).Label);
    }

    [FactWhenFolder(IdxDataset.FashionMnistFolder, "apt-get install dataset-fashion-mnist")]
    public void RealFashionMnistHas60000Plus10000BalancedImages()
    {
        var train = Datasets.Open("fashion-mnist", DataSplit.Train);
        var test = Datasets.Open("fashion-mnist", DataSplit.Eval);
        Assert.Equal((60_000, 10_000), (train.Count, test.Count));
        var first = train.Get(0);
        Assert.Equal((28, 28, 9), (first.Image.Width, first.Image.Height, first.Label)); // an ankle boot
        var perClass = Enumerable.Range(0, test.Count).GroupBy(i => test.Get(i).Label).ToDictionary(g => g.Key, g => g.Count());
        Assert.All(Enumerable.Range(0, 10), c => Assert.Equal(1000, perClass[c]));
    }

    // ---- tar shards ----

    [Fact]
    public void ShardsWrittenFromAFolderReadBackAsTheSameImagesAndLabels()
    {
        using var tmp = new CliRunner.TempDir();
        var images = ImageFolder(tmp["set"], ("b", "1"), ("a", "1"), ("b", "2"), ("c", "1"), ("a", "2"));
        var folder = new ImageFolderDataset(tmp["set"]);
        var pattern = ShardWriter.FromImageFolder(folder, tmp["shards"], "train", seed: 3, maxCount: 2);
        Assert.Equal(Path.Combine(tmp["shards"], "train-{0000..0002}.tar"), pattern);
        Assert.Equal(new[] { "train-0000.tar", "train-0001.tar", "train-0002.tar" },
            Directory.GetFiles(tmp["shards"], "*.tar").Select(Path.GetFileName).Order());

        var shards = new ShardDataset(pattern);
        Assert.Equal(folder.Count, shards.Count);
        Assert.Equal(new[] { 0, 2, 4 }, shards.ShardStarts);
        Assert.Equal(folder.ClassNames.Entries, shards.ClassNames.Entries); // from classes.txt
        var keys = new HashSet<string>();
        for (int i = 0; i < shards.Count; i++)
        {
            var e = shards.Get(i);
            int index = int.Parse(e.Key);                                      // "%07d" of the folder index
            Assert.Equal(7, e.Key.Length);
            var original = folder.Get(index);
            Assert.Equal(original.Label, e.Label);
            Assert.Equal(original.Image.Pixels, e.Image.Pixels);
            keys.Add(e.Key);
        }
        Assert.Equal(5, keys.Count);
        Assert.NotEqual(Enumerable.Range(0, 5), Enumerable.Range(0, 5).Select(i => int.Parse(shards.Get(i).Key))); // shuffled

        var again = Assert.Throws<IOException>(() => ShardWriter.FromImageFolder(folder, tmp["shards"], "train"));
        Assert.Contains("train-0000.tar", again.Message);
    }

    [Fact]
    public void ShardWriterIsByteReproducibleAndStartsANewShardAtTheSizeLimit()
    {
        using var tmp = new CliRunner.TempDir();
        var samples = Enumerable.Range(0, 3).Select(i => new ShardSample($"{i:D7}", "png", new byte[600], i)).ToList();
        // each sample: .cls member 512 + 512, image member 512 + 1024 -> 2560 bytes; a shard closes once >= 3000
        var a = ShardWriter.Write(samples, tmp["a"], "s", maxSize: 3000);
        var b = ShardWriter.Write(samples, tmp["b"], "s", maxSize: 3000);
        Assert.Equal(2, a.Count);
        Assert.Equal(File.ReadAllBytes(a[0]), File.ReadAllBytes(b[0]));
        using var reader = new TarReader(File.OpenRead(a[0]));
        var first = reader.GetNextEntry()!;
        Assert.Equal((TarEntryFormat.Ustar, "0000000.cls"), (first.Format, first.Name));
        Assert.Equal("0", new StreamReader(first.DataStream!).ReadToEnd());
    }

    [Fact]
    public void ShardsAsTheOriginalWritesThemAreRead()
    {
        // PAX headers, a folder inside the tar, .jpeg/.JPG extensions, an extra member, no classes.txt (ImageNet).
        using var tmp = new CliRunner.TempDir();
        var image = RandomImage(6, 4, 1);
        Directory.CreateDirectory(tmp["shards"]);
        using (var tar = new TarWriter(File.Create(tmp["shards/imagenet-train-0000.tar"]), TarEntryFormat.Pax))
        {
            void Add(string name, byte[] data) => tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(data) });
            tar.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "train"));
            Add("train/0000042.cls", "207"u8.ToArray());
            Add("train/0000042.JPEG", Images.EncodePng(image)); // PIL decodes by content; so does the reader
            Add("train/0000042.json", "{}"u8.ToArray());
            Add("train/0000007.png", Images.EncodePng(image));
            Add("train/0000007.cls", "1\n"u8.ToArray());
        }
        var set = (ShardDataset)Datasets.Open(tmp["shards/imagenet-train-{0000..0000}.tar"], DataSplit.Train);
        Assert.Equal(2, set.Count);
        Assert.Equal(1000, set.ClassNames.Count);
        Assert.Equal(("train/0000042", 207), (set.Get(0).Key, set.Get(0).Label));
        Assert.Equal(image.Pixels, set.Get(0).Image.Pixels);
        Assert.Equal(("train/0000007", 1), (set.Get(1).Key, set.Get(1).Label));
    }

    [Fact]
    public void ShardErrorsNameTheShardAndTheSample()
    {
        using var tmp = new CliRunner.TempDir();
        string Shard(string name, params ShardSample[] samples) => ShardWriter.Write(samples, tmp[name], "s").Single();
        var png = Images.EncodePng(RandomImage(3, 3, 0));

        var missing = Assert.Throws<FileNotFoundException>(() => new ShardDataset(tmp["x-{0..1}.tar"]));
        Assert.Equal($"shard {tmp["x-0.tar"]} not found", missing.Message);

        var noImage = Shard("noimage", new ShardSample("k1", "txt", png, 0));
        var e1 = Assert.Throws<InvalidDataException>(() => new ShardDataset(noImage));
        Assert.StartsWith($"shard {noImage}: sample k1 has no image", e1.Message);

        var bigLabel = Shard("biglabel", new ShardSample("k2", "png", png, 1000));
        var e2 = Assert.Throws<InvalidDataException>(() => new ShardDataset(bigLabel));
        Assert.StartsWith($"shard {bigLabel}: sample k2 has class 1000, expected below the 1000 classes of ImageNet", e2.Message);

        var corrupt = Shard("corrupt", new ShardSample("k3", "png", "not an image"u8.ToArray(), 3));
        var e3 = Assert.Throws<InvalidDataException>(() => new ShardDataset(corrupt).Get(0));
        Assert.Contains($"{corrupt}:k3", e3.Message);

        File.WriteAllText(tmp["notatar.tar"], "hello");
        var e4 = Assert.ThrowsAny<Exception>(() => new ShardDataset(tmp["notatar.tar"]));
        Assert.Contains(tmp["notatar.tar"], e4.Message);
        foreach (var e in new[] { missing, e1, e2, e3, e4 }) OneLine(e);
    }

    [Theory]
    [InlineData("a-{0000..0002}.tar", "a-0000.tar a-0001.tar a-0002.tar")]
    [InlineData("a-{8..10}.tar", "a-8.tar a-9.tar a-10.tar")]
    [InlineData("a-{08..10}.tar", "a-08.tar a-09.tar a-10.tar")]
    [InlineData("{2..0}", "2 1 0")]
    [InlineData("{x,y}-{1..2}", "x-1 x-2 y-1 y-2")]
    [InlineData("{a,{b,c}}d", "ad bd cd")]
    [InlineData("plain.tar", "plain.tar")]
    [InlineData("lit{x}.tar", "lit{x}.tar")]
    public void BraceExpansionAsWebdataset(string pattern, string expected) =>
        Assert.Equal(expected.Split(' '), ShardDataset.ExpandBraces(pattern));

    [Fact]
    public void UnclosedBraceIsAnError() =>
        Assert.Contains("never closed", Assert.Throws<ArgumentException>(() => ShardDataset.ExpandBraces("a-{0..2.tar")).Message);

    // ---- config ----

    static ExperimentConfig Config(string train, string eval) => ConfigLoader.LoadFromString(
        $"dataset:\n  params:\n    train_shards_path_or_url: \"{train}\"\n    eval_shards_path_or_url: \"{eval}\"\n");

    [Fact]
    public void ConfigSelectsFashionMnistFolderOrShardsPerSplit()
    {
        using var tmp = new CliRunner.TempDir();
        FashionMnistFolder(tmp["fm"], trainCount: 12, testCount: 5);
        ImageFolder(tmp["set"], ("a", "1"), ("b", "1"), ("b", "2"));
        var pattern = ShardWriter.FromImageFolder(new ImageFolderDataset(tmp["set"]), tmp["shards"], "val");

        var fm = Config($"fashion-mnist:{tmp["fm"]}", $"fashion-mnist:{tmp["fm"]}");
        Assert.Equal(12, Assert.IsType<IdxDataset>(Datasets.FromConfig(fm, DataSplit.Train)).Count);
        Assert.Equal(5, Assert.IsType<IdxDataset>(Datasets.FromConfig(fm, DataSplit.Eval)).Count);

        var mixed = Config(tmp["set"], pattern);
        Assert.Equal(3, Assert.IsType<ImageFolderDataset>(Datasets.FromConfig(mixed, DataSplit.Train)).Count);
        Assert.Equal(3, Assert.IsType<ShardDataset>(Datasets.FromConfig(mixed, DataSplit.Eval)).Count);
    }

    [Fact]
    public void ConfigNamingNothingIsAnErrorNamingTheKey()
    {
        var official = ConfigLoader.Load(Path.Combine(Golden.RepoRoot, "configs", "tokenizer", "maskbit_tokenizer_10bit.yaml"));
        var train = Assert.Throws<ConfigException>(() => Datasets.FromConfig(official, DataSplit.Train));
        Assert.Equal("dataset.params.train_shards_path_or_url: shard DATA_PATH/imagenet_shards/train/imagenet-train-0000.tar not found", train.Message);
        var eval = Assert.Throws<ConfigException>(() => Datasets.FromConfig(Config("x", "/no/such/folder"), DataSplit.Eval));
        Assert.Equal("dataset.params.eval_shards_path_or_url: image folder /no/such/folder not found", eval.Message);
        var fm = Assert.Throws<ConfigException>(() => Datasets.FromConfig(Config("fashion-mnist:/no/fm", "x"), DataSplit.Train));
        Assert.StartsWith("dataset.params.train_shards_path_or_url: Fashion-MNIST folder /no/fm not found", fm.Message);
    }
}
