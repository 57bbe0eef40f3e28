namespace MaskBit.Config;

// The sections of the original's YAML files besides `model.vq_model` / `model.mlm_model` (ModelConfigs.cs).
// Naming as there: a property binds to the YAML key that is its name in snake_case. A property with an
// initializer is optional in the YAML (defaults: fidelity 9.1 for the keys the original reads with `get`, else the
// value shared by the official configs); a `required` one must be present whenever its section is. Sections
// (record-typed properties) are null when the file has none (demo.yaml has only `model`).

/// <summary>A whole config file; load with <see cref="ConfigLoader"/>, save with <see cref="ConfigWriter"/>.</summary>
public sealed record ExperimentConfig
{
    public ExperimentSettings? Experiment { get; init; }
    public ModelConfig? Model { get; init; }
    public LossesConfig? Losses { get; init; }
    public DatasetConfig? Dataset { get; init; }
    public OptimizerConfig? Optimizer { get; init; }
    public LrSchedulerConfig? LrScheduler { get; init; }
    public TrainingConfig? Training { get; init; }

    /// <summary>The image size: <c>dataset.preprocessing.resolution</c>, or its default when the file has no such
    /// section (demo.yaml). Computed, so not a YAML key.</summary>
    public int Resolution => (Dataset?.Preprocessing ?? new PreprocessingConfig()).Resolution;
}

/// <summary><c>experiment</c>: naming, logging and checkpoint cadence (fidelity 6, 9.1). Not "ExperimentConfig": that is the root.</summary>
public sealed record ExperimentSettings
{
    /// <summary>Unused (a tracker project name in the original).</summary>
    public string Project { get; init; } = "MaskBit";
    /// <summary>Output folder name under the workspace (vqgan_plus_12bit.yaml reuses the 10-bit one, as in the original).</summary>
    public required string Name { get; init; }
    public int MaxTrainExamples { get; init; } = 1_281_167;
    public int SaveEvery { get; init; } = 20_000;
    public int EvalEvery { get; init; } = 20_000;
    public int GenerateEvery { get; init; } = 2000;
    public int LogEvery { get; init; } = 50;
    public int LogGradNormEvery { get; init; } = 100_000;
    public string Logger { get; init; } = "tensorboard";
    public bool Resume { get; init; } = true;
    /// <summary>Checkpoint folder to start from; "" for none.</summary>
    public string InitCheckpoint { get; init; } = "";
    /// <summary>
    /// Model weights to start from (a tokenizer file as <c>maskbit export</c> writes it, or a checkpoint's model file):
    /// loaded strictly into the model and its EMA, at step 0 with fresh optimizers; "" for none. Not a key of the
    /// original's MaskBit scripts; its sister repository's (1d-tokenizer) name for the same thing.
    /// </summary>
    public string InitWeight { get; init; } = "";
    /// <summary>Tokenizer weights: the frozen Stage-I model of generator training, or the model to evaluate.</summary>
    public string? VqganCheckpoint { get; init; }
    public bool ResumeLrScheduler { get; init; } = true;
    public bool DontResumeOptimizer { get; init; }
    /// <summary>Written by training: the run's output folder.</summary>
    public string? LoggingDir { get; init; }
}

/// <summary><c>model</c>.</summary>
public sealed record ModelConfig
{
    public VqModelConfig? VqModel { get; init; }
    public DiscriminatorConfig? Discriminator { get; init; }
    public MlmModelConfig? MlmModel { get; init; }
}

/// <summary><c>losses</c>: the tokenizer's VQGANLoss keys (fidelity 3) and, for generators, <c>losses.mlm</c> (fidelity 4.6).</summary>
public sealed record LossesConfig
{
    public double QuantizerWeight { get; init; } = 1.0;
    /// <summary><c>resnet50</c> or <c>lpips</c> (the original's), <c>resnet18</c> (the CNTK ResNet-18, an addition) or
    /// <c>none</c>; the original's <c>convnext_s</c> is refused (its weights are not available here).</summary>
    public string PerceptualLoss { get; init; } = "resnet50";
    public double PerceptualWeight { get; init; } = 0.1;
    public bool PerceptualLossOnLogits { get; init; } = true;
    /// <summary><c>l1</c> or <c>l2</c>.</summary>
    public string ReconstructionLoss { get; init; } = "l2";
    public double ReconstructionWeight { get; init; } = 1.0;
    public int DiscriminatorStart { get; init; } = 20_000;
    /// <summary><c>hinge</c>, <c>vanilla</c> or <c>non-saturating</c>.</summary>
    public string DiscriminatorLoss { get; init; } = "hinge";
    public double DiscriminatorFactor { get; init; } = 1.0;
    public double DiscriminatorWeight { get; init; } = 0.02;
    /// <summary><c>none</c> or <c>adopt_weight</c> (an adaptive GAN weight, not a penalty: fidelity Q16).</summary>
    public string DiscriminatorGradientPenalty { get; init; } = "none";
    /// <summary>Unused by the original.</summary>
    public double DiscriminatorPenaltyCost { get; init; } = 10.0;
    public double LecamRegularizationWeight { get; init; } = 0.001;
    public double EmaDecay { get; init; } = 0.999;
    public int EntropyAnnealingSteps { get; init; } = 2000;
    public double EntropyAnnealingFactor { get; init; } = 0.0;
    public MlmLossConfig? Mlm { get; init; }
}

/// <summary><c>losses.mlm</c>: the generator's MLMLoss.</summary>
public sealed record MlmLossConfig
{
    public double LabelSmoothing { get; init; } = 0.1;
    public bool SumSplits { get; init; }
}

/// <summary><c>dataset</c> (fidelity 8.2).</summary>
public sealed record DatasetConfig
{
    public DatasetParamsConfig? Params { get; init; }
    public PreprocessingConfig? Preprocessing { get; init; }
}

/// <summary><c>dataset.params</c>: webdataset shard patterns (brace-expanded) and loader settings.</summary>
public sealed record DatasetParamsConfig
{
    public required string TrainShardsPathOrUrl { get; init; }
    public required string EvalShardsPathOrUrl { get; init; }
    public int ShuffleBufferSize { get; init; } = 1000;
    public int NumWorkersPerGpu { get; init; } = 8;
    public bool PinMemory { get; init; } = true;
    public bool PersistentWorkers { get; init; } = true;
}

/// <summary><c>dataset.preprocessing</c>.</summary>
public sealed record PreprocessingConfig
{
    public int Resolution { get; init; } = 256;
    public bool UseAspectRatioAug { get; init; } = true;
    public bool UseRandomCrop { get; init; } = true;
    public double MinScale { get; init; } = 0.8;
    /// <summary><c>bilinear</c> (tokenizers) or <c>bicubic</c> (generators).</summary>
    public string Interpolation { get; init; } = "bilinear";
}

/// <summary><c>optimizer</c>.</summary>
public sealed record OptimizerConfig
{
    public string Name { get; init; } = "adamw";
    public OptimizerParamsConfig? Params { get; init; }
}

/// <summary><c>optimizer.params</c>: AdamW; the discriminator keys are read by tokenizer training only.</summary>
public sealed record OptimizerParamsConfig
{
    public double LearningRate { get; init; } = 1e-4;
    public double DiscriminatorLearningRate { get; init; } = 1e-4;
    /// <summary>Multiply the learning rates by the global batch size.</summary>
    public bool ScaleLr { get; init; }
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    public double WeightDecay { get; init; } = 1e-4;
    public double Epsilon { get; init; } = 1e-8;
}

/// <summary><c>lr_scheduler</c> (fidelity 6.3).</summary>
public sealed record LrSchedulerConfig
{
    public string Scheduler { get; init; } = "cosine_with_minimum";
    public LrSchedulerParamsConfig? Params { get; init; }
}

/// <summary><c>lr_scheduler.params</c>.</summary>
public sealed record LrSchedulerParamsConfig
{
    /// <summary>Informational only (the official files interpolate <c>${optimizer.params.learning_rate}</c>).</summary>
    public double LearningRate { get; init; } = 1e-4;
    public int WarmupSteps { get; init; } = 5_000;
}

/// <summary><c>training</c>.</summary>
public sealed record TrainingConfig
{
    public int GradientAccumulationSteps { get; init; } = 1;
    public int PerGpuBatchSize { get; init; } = 16;
    /// <summary><c>no</c>, <c>fp16</c> or <c>bf16</c>.</summary>
    public string MixedPrecision { get; init; } = "no";
    public bool EnableTf32 { get; init; } = true;
    public bool UseEma { get; init; }
    /// <summary>null: unseeded.</summary>
    public int? Seed { get; init; } = 42;
    public int MaxTrainSteps { get; init; } = 1_350_000;
    public bool OverfitBatch { get; init; }
    public int OverfitBatchNum { get; init; } = 1;
    public int NumGeneratedImages { get; init; } = 2;
    /// <summary>null: no gradient clipping.</summary>
    public double? MaxGradNorm { get; init; } = 1.0;
    /// <summary>Decay of the weights' moving average (the original's scripts hard-code 0.999; optional key).</summary>
    public double EmaDecay { get; init; } = 0.999;
}
