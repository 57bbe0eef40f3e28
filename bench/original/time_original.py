"""Times the original MaskBit (PyTorch) on this machine, the other half of bench/side_by_side.sh.

Needs a checkout of markweberdev/maskbit (--repo) and Debian's python3-torch (+ python3-torchvision, python3-omegaconf,
python3-tqdm) with an optimised BLAS (libopenblas0-openmp). Models are built from an official config with random
weights (the cost does not depend on the values), exactly as the original's scripts build them.

  speed     generator seconds per image and step, token decode, tokenizer encode/decode per image: medians over
            --repeats after one warm-up, printed as one JSON line with the field names of `maskbit bench --json`.
  save      writes the random tokenizer and generator as torch.save state dicts (tokenizer.bin, generator.bin), the
            files both implementations then load in `generate`.
  generate  the original's generation path (load_pretrained of both files, sample(), decode) for one image; prints
            the peak resident memory of this process as JSON.
"""
import argparse
import json
import math
import os
import resource
import statistics
import sys
import time
import types


def einops_shim():
    """Debian packages no einops; the original uses only these rearrange/reduce patterns (all plain permutes and reshapes)."""
    import torch

    def rearrange(x, pattern, **axes):
        if pattern in ("b c h w -> b h w c",):
            return x.permute(0, 2, 3, 1)
        if pattern in ("b h w c -> b c h w",):
            return x.permute(0, 3, 1, 2)
        if pattern == "b h w c -> b h w c":
            return x
        if pattern == "b h w c -> (b h w) c":
            return x.reshape(-1, x.shape[-1])
        if pattern == "b n m c -> b n (m c)":
            return x.reshape(x.shape[0], x.shape[1], -1)
        if pattern == "b n (m c) -> b n m c":
            return x.reshape(x.shape[0], x.shape[1], axes["m"], axes["c"])
        raise NotImplementedError(f"einops shim: pattern {pattern!r}")

    def reduce(x, pattern, reduction):
        if pattern == "b h w c -> b h w" and reduction == "sum":
            return x.sum(dim=-1)
        raise NotImplementedError(f"einops shim: reduce {pattern!r} {reduction!r}")

    module = types.ModuleType("einops")
    module.rearrange, module.reduce = rearrange, reduce
    sys.modules["einops"] = module
    del torch


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def build(config):
    """The tokenizer and generator of the config, as demo_utils.get_tokenizer / get_generator build them."""
    from modeling.conv_vqgan import ConvVQModel
    from modeling.bert import Bert, LFQBert

    vq, mlm = config.model.vq_model, config.model.mlm_model
    tokenizer = ConvVQModel(vq, legacy=False)
    cls = {"bert": Bert, "lfq_bert": LFQBert}[mlm.model_cls]
    generator = cls(
        img_size=256, hidden_dim=mlm.hidden_dim, codebook_size=vq.codebook_size, codebook_splits=mlm.codebook_splits,
        depth=mlm.depth, heads=mlm.heads, mlp_dim=mlm.mlp_dim, dropout=mlm.dropout, use_prenorm=mlm.use_prenorm,
        input_stride=2 ** (vq.num_resolutions - 1))
    for m in (tokenizer, generator):
        m.eval()
        m.requires_grad_(False)
    return tokenizer, generator


def run_sample(config, tokenizer, generator, batch, steps, decode=True):
    """The original's sample() with the config's settings; returns the tokens (and the images when decoding)."""
    import torch
    from modeling.modules import sample

    vq, mlm = config.model.vq_model, config.model.mlm_model
    labels = torch.arange(batch, dtype=torch.long)
    decoder = tokenizer if decode else types.SimpleNamespace(eval=lambda: None, decode_tokens=lambda t: t)
    return sample(
        generator, decoder, num_samples=batch, labels=labels, softmax_temperature=mlm.softmax_temperature,
        randomize_temperature=mlm.randomize_temperature, mask_schedule_strategy=mlm.gen_mask_schedule_strategy,
        num_steps=steps, guidance_scale=mlm.guidance_scale, mask_token=mlm.mask_token, patch_size=16,
        guidance_annealing=mlm.guidance_annealing, use_sampling_annealing=mlm.get("use_sampling_annealing", False),
        scale_pow=mlm.get("scale_pow", 4.0), codebook_size=vq.codebook_size, codebook_splits=mlm.codebook_splits)


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def speed(config, args):
    import torch

    torch.manual_seed(0)
    tokenizer, generator = build(config)
    b, n = args.batch_size, args.steps
    x = torch.rand(b, 3, 256, 256)
    with torch.no_grad():
        run_sample(config, tokenizer, generator, b, 1, decode=False)  # warm-up, as maskbit bench
        tokenizer.decode(tokenizer.encode(x)[0])
        sample_s, decode_s, encode_s, dec_s = [], [], [], []
        for _ in range(args.repeats):
            # Without the decoder, sample() returns the combined tokens where it would return the images.
            t, (tokens, _) = timed(lambda: run_sample(config, tokenizer, generator, b, n, decode=False))
            sample_s.append(t / b)
            decode_s.append(timed(lambda: tokenizer.decode_tokens(tokens))[0] / b)
            t, (z, _) = timed(lambda: tokenizer.encode(x))
            encode_s.append(t / b)
            dec_s.append(timed(lambda: tokenizer.decode(z))[0] / b)
    print(json.dumps({
        "implementation": f"original (PyTorch {torch.__version__})",
        "generator_s_per_image_step": statistics.median(sample_s) / n,
        "decode_s_per_image": statistics.median(decode_s),
        "tokenizer_encode_s_per_image": statistics.median(encode_s),
        "tokenizer_decode_s_per_image": statistics.median(dec_s),
        "peak_rss_mib": peak_rss_mib(),
        "threads": torch.get_num_threads(),
    }))


def save(config, args):
    import torch

    torch.manual_seed(0)
    tokenizer, generator = build(config)
    os.makedirs(args.out, exist_ok=True)
    torch.save(tokenizer.state_dict(), os.path.join(args.out, "tokenizer.bin"))
    torch.save(generator.state_dict(), os.path.join(args.out, "generator.bin"))


def generate(config, args):
    """demo_utils' path: build, load_pretrained (the generator with the released token_emb -> input_proj rename), sample."""
    import torch

    tokenizer, generator = build(config)
    tokenizer.load_pretrained(args.tokenizer)
    generator.load_pretrained(args.generator, rename_keys={"token_emb": "input_proj"})
    torch.manual_seed(0)
    images, _ = run_sample(config, tokenizer, generator, 1, args.steps)
    print(json.dumps({"implementation": f"original (PyTorch {torch.__version__})", "peak_rss_mib": peak_rss_mib(),
                      "image_shape": list(images.shape)}))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["speed", "save", "generate"])
    parser.add_argument("--repo", required=True, help="checkout of markweberdev/maskbit")
    parser.add_argument("--config", required=True, help="official generator config (holds the tokenizer's too)")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads (default: every core)")
    parser.add_argument("--out", default="original-weights", help="save: output folder")
    parser.add_argument("--tokenizer", help="generate: tokenizer .bin")
    parser.add_argument("--generator", help="generate: generator .bin")
    args = parser.parse_args()

    sys.path.insert(0, os.path.abspath(args.repo))
    try:
        import einops  # noqa: F401
    except ImportError:
        einops_shim()
    import torch
    from omegaconf import OmegaConf

    # Debian's build starts with one intra-op thread; give it every core, as libtorch does in this project.
    torch.set_num_threads(args.threads or os.cpu_count())
    config = OmegaConf.load(args.config)
    # As scripts/eval_maskbit.py sets it (the configs do not hold it).
    mlm, vq = config.model.mlm_model, config.model.vq_model
    mlm.mask_token = int(2 ** (math.log2(vq.codebook_size) // mlm.codebook_splits))
    {"speed": speed, "save": save, "generate": generate}[args.command](config, args)


if __name__ == "__main__":
    main()
