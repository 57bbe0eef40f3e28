#!/usr/bin/env bash
# This project and the original MaskBit (PyTorch), timed one after the other in one run on this machine, on the
# official 14-bit configs with random weights (the cost does not depend on the values): generator seconds per image
# and step, token decode, tokenizer encode/decode, and the peak resident memory of generating one image from weight
# files (both load the same torch.save files); then this project again with libtorch's huge-page allocation off
# (THP_MEM_ALLOC_ENABLE=0, which the library otherwise turns on). Prints a Markdown table for docs/performance.md and the raw
# JSON lines. This project multiplies through OpenBLAS where Debian's libopenblas0-openmp is installed (MASKBIT_BLAS).
#
#   bench/side_by_side.sh ORIGINAL_CHECKOUT [STEPS] [REPEATS]
#
# ORIGINAL_CHECKOUT: a checkout of github.com/markweberdev/maskbit. Python side (Debian 12):
#   apt-get install python3-torch python3-torchvision python3-omegaconf python3-tqdm libopenblas0-openmp
# (PYTHON overrides the interpreter, default /usr/bin/python3.) Machines differ by 30% or more: compare only numbers
# from one run.
set -euo pipefail
repo=$(cd "${1:?usage: bench/side_by_side.sh ORIGINAL_CHECKOUT [STEPS] [REPEATS]}" && pwd)
steps=${2:-8}
repeats=${3:-3}
py=${PYTHON:-/usr/bin/python3}
root=$(cd "$(dirname "$0")/.." && pwd)
config=$root/configs/generator/maskbit_generator_14bit.yaml
[ -f "$repo/modeling/bert.py" ] || { echo "side_by_side.sh: $repo is not a checkout of markweberdev/maskbit (no modeling/bert.py)" >&2; exit 2; }
"$py" -c "import torch, torchvision, omegaconf, tqdm" 2>/dev/null || { echo "side_by_side.sh: $py lacks torch/torchvision/omegaconf/tqdm (apt-get install python3-torch python3-torchvision python3-omegaconf python3-tqdm)" >&2; exit 2; }

dotnet build "$root/src/MaskBit.Cli" -c Release -v q -nologo > /dev/null
cli=(dotnet "$root/src/MaskBit.Cli/bin/Release/net10.0/MaskBit.Cli.dll")
orig=("$py" "$root/bench/original/time_original.py")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Peak resident memory (MiB) of a command and its children, from the kernel's accounting.
peak() { "$py" -c 'import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
if r.returncode: sys.exit(f"{sys.argv[1:]} failed with {r.returncode}")
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)' "$@"; }

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; $steps steps, median of $repeats" >&2
echo "timing this project ..." >&2
"${cli[@]}" bench -c "$config" --steps "$steps" --repeats "$repeats" --json | tail -n 1 > "$work/ours.json"
echo "timing this project without libtorch's huge-page allocation ..." >&2
THP_MEM_ALLOC_ENABLE=0 "${cli[@]}" bench -c "$config" --steps "$steps" --repeats "$repeats" --json | tail -n 1 > "$work/ours_no_thp.json"
echo "timing the original ..." >&2
"${orig[@]}" speed --repo "$repo" --config "$config" --steps "$steps" --repeats "$repeats" > "$work/original.json"
echo "peak memory of generate (one image, 4 steps, weights from files) ..." >&2
"${orig[@]}" save --repo "$repo" --config "$config" --out "$work/weights"
peak "${cli[@]}" generate -c "$config" --tokenizer "$work/weights/tokenizer.bin" -g "$work/weights/generator.bin" \
    -n 1 --classes 0 --steps 4 -o "$work/ours.png" > "$work/ours_generate_mib"
peak "${orig[@]}" generate --repo "$repo" --config "$config" --tokenizer "$work/weights/tokenizer.bin" \
    --generator "$work/weights/generator.bin" --steps 4 > "$work/original_generate_mib"

"$py" - "$work" <<'EOF'
import json, sys
work = sys.argv[1]
ours = json.load(open(f"{work}/ours.json"))
plain = json.load(open(f"{work}/ours_no_thp.json"))
orig = json.load(open(f"{work}/original.json"))
ours["generate_peak_rss_mib"] = float(open(f"{work}/ours_generate_mib").read())
orig["generate_peak_rss_mib"] = float(open(f"{work}/original_generate_mib").read())
rows = [("generator, s per image and step (guidance: 2 sequences)", "generator_s_per_image_step", "{:.3f}"),
        ("decode tokens -> image, s per image", "decode_s_per_image", "{:.2f}"),
        ("tokenizer encode 256x256, s per image", "tokenizer_encode_s_per_image", "{:.2f}"),
        ("tokenizer decode 256x256, s per image", "tokenizer_decode_s_per_image", "{:.2f}"),
        ("peak resident memory of `generate` (1 image), MiB", "generate_peak_rss_mib", "{:,.0f}")]
print(f"| | this project | {orig['implementation']} | ratio | this project, THP_MEM_ALLOC_ENABLE=0 |")
print("|---|---|---|---|---|")
for label, key, fmt in rows:
    print(f"| {label} | {fmt.format(ours[key])} | {fmt.format(orig[key])} | {ours[key] / orig[key]:.2f} | {fmt.format(plain[key]) if key in plain else ''} |")
print(f"\nthreads: {ours['threads']} / {orig['threads']}; cpu: {ours['cpu']}")
if "matmul_gflops" in ours:
    print(f"fp32 matrix multiply through {ours['blas']}: {ours['matmul_gflops']:.0f} GFLOP/s (libtorch's own: "
          f"{ours['libtorch_matmul_gflops']:.0f}); generator: {ours['generator_gflops']:.0f} GFLOP/s "
          f"({ours['generator_gflops'] / ours['matmul_gflops']:.0%} of it)")
print("\n" + json.dumps(ours) + "\n" + json.dumps(orig) + "\n" + json.dumps(plain))
EOF
