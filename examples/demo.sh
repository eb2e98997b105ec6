#!/bin/sh
# make demo: the whole pipeline on the frozen-noise task (the Dynap-SE2 training tutorial):
# train on the chip model (mismatch-, fan-in- and grid-aware) -> map -> emulate -> verify.
# $1 is the venv's bin directory. A few minutes on 2 cores.
set -e
BIN=${1:-.venv/bin}
ND="$BIN/neurodeploy"
OUT=demo-out
mkdir -p "$OUT"
echo "== neurodeploy train: 2 frozen Poisson samples on 60 channels, 2 decision neurons (a few minutes)"
"$ND" train frozen-noise -o "$OUT/model.json" --quiet
echo
echo "== the two trained samples as an input file (spikes, dt, labels)"
"$ND" task-data frozen-noise --split train -o "$OUT/samples.npz"
echo
echo "== neurodeploy map: quantize -> map -> config"
"$ND" map "$OUT/model.json" -o "$OUT/config.json" --report "$OUT/report.json"
echo
echo "== run the config on the bit-accurate emulator (no board needed)"
"$ND" emulate "$OUT/config.json" --input "$OUT/samples.npz" -o "$OUT/emulated.npz"
echo
echo "== verify: float network vs deployed config, 16 mismatched boards (the CI gate)"
"$ND" verify "$OUT/model.json" "$OUT/config.json" --input "$OUT/samples.npz" \
    --trials 16 --mismatch 0.1 --json "$OUT/verify.json"
echo
echo "outputs in $OUT/: model.json (trained) and model.report.{md,json,png}, config.json (what the chip holds),"
echo "report.json (what mapping lost and where), emulated.npz (spikes and board events), verify.json (fidelity)"
