#!/usr/bin/env bash
# Times the README's main command, a bare `maskbit generate` (the bundled Fashion-MNIST model: 10 classes x 4
# samples with the decoding steps and guidance of its config, decoded and written as one PNG), after the build: the built command itself, and
# through ./maskbit (which adds `dotnet run`'s up-to-date check). Prints each run and the median, with the machine.
#   bench/bare_generate.sh [RUNS]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
dotnet build src/MaskBit.Cli -c Release -nologo -v q >/dev/null
dll=src/MaskBit.Cli/bin/Release/net10.0/MaskBit.Cli.dll
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
for how in "dotnet $dll" "./maskbit"; do
  for i in $(seq "$runs"); do
    /usr/bin/time -f "%e %M" -o "$out/t" $how generate -o "$out/samples.png" >/dev/null
    read -r s kib <"$out/t"
    echo "  $how generate: $s s, peak $((kib / 1024)) MiB" >&2
    echo "$s"
  done | median | xargs -I{} echo "$how generate: median {} s over $runs runs"
done
