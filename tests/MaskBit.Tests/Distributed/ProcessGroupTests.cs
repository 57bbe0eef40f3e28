using MaskBit.Distributed;
using static TorchSharp.torch;

namespace MaskBit.Tests.Distributed;

/// <summary>A process without a launcher: a group of one that never loads MPI (the multi-rank behaviour is tested
/// under mpirun: the Distributed category).</summary>
public class ProcessGroupTests
{
    [Fact]
    public void WithoutALauncherTheWorldIsOneProcessAndCollectivesChangeNothing()
    {
        Assert.Equal(1, ProcessGroup.LaunchedSize());
        var world = ProcessGroup.World;
        Assert.Same(ProcessGroup.Single, world);
        Assert.Equal((0, 1, true, false), (world.Rank, world.Size, world.IsMain, world.IsDistributed));
        using var t = tensor(new double[] { 0, 1, 2, 3, 4 });
        world.AllReduceSum(t);
        world.Broadcast(t);
        world.Barrier();
        Assert.Equal(new[] { 0.0, 1, 2, 3, 4 }, t.data<double>().ToArray());
        var values = new[] { 1.5, 2.5 };
        world.AllReduceSum(values);
        Assert.Equal(new[] { 1.5, 2.5 }, values);
    }
}
