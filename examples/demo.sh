#!/bin/sh
# make demo: deploy the built-in example (a 60-input, 2-neuron frozen-noise classifier) onto a
# Dynap-SE2 configuration. $1 is the venv's bin directory.
set -e
BIN=${1:-.venv/bin}
ND="$BIN/neurodeploy"
OUT=demo-out
mkdir -p "$OUT"
echo "== the network: examples/frozen_noise/model.json"
"$ND" validate examples/frozen_noise/model.json
echo
echo "== neurodeploy map: quantize -> map -> config"
"$ND" map examples/frozen_noise/model.json -o "$OUT/config.json" --report "$OUT/report.json"
echo
echo "== the config is a validated file"
"$ND" validate "$OUT/config.json"
echo
echo "== run the config on the bit-accurate emulator (no board needed)"
"$ND" emulate "$OUT/config.json" --input examples/frozen_noise/inputs.npz -o "$OUT/emulated.npz"
echo
echo "== verify: float network vs deployed config, 32 mismatch draws (the CI gate)"
"$ND" verify examples/frozen_noise/model.json "$OUT/config.json" --input examples/frozen_noise/inputs.npz \
    --labels examples/frozen_noise/labels.npy --trials 32 --mismatch 0.1 --json "$OUT/verify.json"
echo
echo "outputs in $OUT/: config.json (what the chip holds), report.json (what was lost and where),"
echo "emulated.npz (spikes and board events), verify.json (fidelity report)"
