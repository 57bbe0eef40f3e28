using MaskBit.Generation;
using MaskBit.Interop;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskBit.Tests.Generation;

/// <summary>Parity of <see cref="LfqBert"/> with the original's outputs (golden kind "generator": D, D').</summary>
public class LfqBertGoldenTests
{
    public static TheoryData<string> Cases => Golden.CaseNames("generator");

    internal static LfqBert Build(GoldenCase c)
    {
        var a = c.Json.GetProperty("constructor");
        var model = new LfqBert(
            imgSize: a.GetProperty("img_size").GetInt32(), hiddenDim: a.GetProperty("hidden_dim").GetInt32(),
            codebookSize: a.GetProperty("codebook_size").GetInt32(), codebookSplits: a.GetProperty("codebook_splits").GetInt32(),
            depth: a.GetProperty("depth").GetInt32(), heads: a.GetProperty("heads").GetInt32(),
            mlpDim: a.GetProperty("mlp_dim").GetInt32(), dropout: a.GetProperty("dropout").GetDouble(),
            nclass: a.GetProperty("nclass").GetInt32(), inputStride: a.GetProperty("input_stride").GetInt32(),
            usePrenorm: a.GetProperty("use_prenorm").GetBoolean());
        Checkpoint.LoadInto(model, c.ModelPath, LfqBert.ReleasedKeyRenames);
        model.eval();
        return model;
    }

    [GoldenTheory("generator"), MemberData(nameof(Cases))]
    public void StateDictMatchesTheFileEntryForEntry(string name)
    {
        var c = Golden.Case(name);
        using var model = Build(c);
        var expected = Manifests.Listed(c.Json.GetProperty("files").GetProperty("model.bin").GetProperty("entries"), LfqBert.ReleasedKeyRenames, withKind: false);
        Assert.Equal(expected, Manifests.Describe(model, withKind: false));
        Assert.Equal(c.Json.GetProperty("num_parameters").GetInt64(), model.parameters().Sum(p => p.numel()));
    }

    [GoldenTheory("generator"), MemberData(nameof(Cases))]
    public void SavingWritesTheReleasedNamingBackInTheOriginalsOrder(string name)
    {
        var c = Golden.Case(name);
        using var model = Build(c);
        var path = Path.Combine(Path.GetTempPath(), $"maskbit-gen-{Guid.NewGuid():N}.bin");
        try
        {
            Checkpoint.Save(model, path, model.SavingKeyRenames);
            var saved = Checkpoint.ReadStateDict(path);
            var original = Checkpoint.ReadStateDict(c.ModelPath);
            Assert.Contains("token_emb.weight", saved.Keys);
            Assert.Equal(original.Keys, saved.Keys);
            foreach (var (k, t) in original) Assert.True(t.equal(saved[k]).all().item<bool>(), $"{k} differs after the round trip");
        }
        finally { File.Delete(path); }
    }

    [GoldenTheory("generator"), MemberData(nameof(Cases))]
    public void LogitsInputBitsAndLabelsMatch(string name)
    {
        var c = Golden.Case(name);
        using var scope = NewDisposeScope();
        using var model = Build(c);
        var labels = c["class_labels"].clone();
        var drop = c["drop_label_mask"].to_type(ScalarType.Bool);
        c.AssertClose("input_bits", model.PreprocessTokens(c["masked_tokens"]));
        using (no_grad()) c.AssertClose("logits", model.forward(c["masked_tokens"], labels, drop));
        // Deliberate difference: the original overwrites dropped labels in place; this port leaves the caller's
        // tensor alone, and the effective labels (the fixture's tensor after the forward) give the same logits.
        Golden.AssertClose(c["class_labels"], labels, null, $"{name}: labels untouched");
        var effective = c["class_labels_after_forward"];
        Assert.True(effective.ne(c["class_labels"]).eq(drop).all().item<bool>(), $"{name}: fixture drops exactly the flagged labels");
        Assert.True(effective.masked_select(drop).eq(model.DropLabel).all().item<bool>());
        using (no_grad()) c.AssertClose("logits", model.forward(c["masked_tokens"], effective, zeros_like(drop)));
    }

    [GoldenTheory("generator"), MemberData(nameof(Cases))]
    public void IntermediateActivationsMatch(string name)
    {
        var c = Golden.Case(name);
        using var scope = NewDisposeScope();
        using var model = Build(c);
        using var _ = no_grad();
        // Each submodule is fed the reference's own input activation, so a difference is pinned to one module.
        var drop = c["drop_label_mask"].to_type(ScalarType.Bool);
        var labels = c["class_labels"].masked_fill(drop, model.DropLabel).view(-1, 1);
        var children = model.named_children().ToDictionary(m => m.name, m => m.module);
        Tensor Call(string child, Tensor input) => ((nn.Module<Tensor, Tensor>)children[child]).forward(input);
        var x = cat([Call("input_proj", c["input_bits"]), Call("class_emb", labels)], 1) + model.get_parameter("pos_emb")!;
        c.AssertClose("act.first_layer", Call("first_layer", x));
        var transformer = (TransformerEncoder)children["transformer"];
        var h = c["act.first_layer"];
        for (int l = 0; l < transformer.layers.Count; l++)
        {
            c.AssertClose($"act.transformer.layers.{l}.0", transformer.layers[l].attention.forward(h));
            c.AssertClose($"act.transformer.layers.{l}.1", transformer.layers[l].feedForward.forward(c[$"act.transformer.layers.{l}.0"]));
            h = c[$"act.transformer.layers.{l}.1"];
        }
        Assert.Equal(c.Has("act.norm_after_transformer"), children.ContainsKey("norm_after_transformer"));
        if (children.ContainsKey("norm_after_transformer"))
        {
            c.AssertClose("act.norm_after_transformer", Call("norm_after_transformer", h));
            h = c["act.norm_after_transformer"];
        }
        c.AssertClose("act.last_layer", Call("last_layer", h));
    }
}
