#!/bin/sh
# make demo: the main job on the built-in example. $1 is the venv's bin directory.
set -e
BIN=${1:-.venv/bin}
ND="$BIN/neurodeploy"
echo "== the Dynap-SE2 device profile"
"$ND" profile show dynapse2
echo
echo "== bias conversions: current -> (coarse, fine) and back"
"$ND" bias to-code SOIF_LEAK_N 5.3e-12 2e-11 1e-9
"$ND" bias to-code SYAM_W0_P 1e-9 4e-9
"$ND" bias to-current SOIF_LEAK_N 0 29
