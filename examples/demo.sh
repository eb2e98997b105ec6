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
echo "== a bias conversion, for reference"
"$ND" bias to-code SOIF_LEAK_N 5.3e-12
echo
echo "outputs in $OUT/: config.json (what the chip holds), report.json (what was lost and where)"
