"""``neurodeploy validate``: OK lines, one line per error, exit 2, never a traceback (also on fuzzed files)."""

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples" / "frozen_noise"
PROFILE = ROOT / "neurodeploy" / "device_profiles" / "dynapse2.yaml"


def _config(**over):
    cfg = {"format": "neurodeploy.config/1", "profile": {"name": "dynapse2", "sha256": ""}, "neurodeploy_version": "0.1.0",
           "chips": [{"chip": 0, "position": [0, 0], "cores": [
               {"core": 0, "parameters": {"SOIF_LEAK_N": {"coarse": 0, "fine": 27}},
                "neurons": [{"neuron": 3, "latch_so_dc": True, "synapses": [[17, "ampa", "1010"], [18, "gaba", "0001"]],
                             "destinations": [{"tag": 5, "core": [True, False, False, False], "x_hop": 0, "y_hop": 0}]}]}]}],
           "inputs": [{"channel": 0, "destinations": [{"chip": 0, "tag": 17, "core": [True, False, False, False]}]}],
           "outputs": [{"name": "out[0]", "chip": 0, "core": 0, "neuron": 3}],
           "placement": [{"population": "out", "chip": [0], "core": [0], "neuron": [3]}]}
    cfg.update(over)
    return cfg


def _write(tmp_path, name, obj):
    p = tmp_path / name
    p.write_text(obj if isinstance(obj, str) else json.dumps(obj, indent=1))
    return p


def _assert_clean(code, out, err, path=None, expect=2):
    assert code == expect, (code, out, err)
    assert "Traceback" not in out + err and "internal error" not in err, err
    if expect == 2:
        lines = [ln for ln in err.splitlines() if ln]
        assert lines, "no error line"
        if path is not None:
            assert all(ln.startswith(str(path)) for ln in lines), err


def test_examples_and_profile_are_ok(run_cli, tmp_path):
    cfg = _write(tmp_path, "config.json", _config())
    code, out, err = run_cli("validate", EX / "model.json", EX / "model.npz", EX / "model.nir", PROFILE, cfg)
    assert code == 0, err
    kinds = [ln.split()[1] for ln in out.splitlines()]
    assert kinds == ["network", "network", "network", "profile", "config"]
    assert out.splitlines()[0].startswith(f"OK network {EX / 'model.json'}: 'frozen_noise': 60 inputs, 2 neurons")
    assert "1 chips, 1 cores, 1 neurons, 2 CAM entries" in out.splitlines()[4]


def test_the_documented_error_line(run_cli, tmp_path):
    network = json.loads((EX / "model.json").read_text())
    network["projections"][1]["weight"][1] = [0.1, 0.2, 0.3]
    p = _write(tmp_path, "model.json", network)
    code, out, err = run_cli("validate", p)
    _assert_clean(code, out, err, p)
    assert err.splitlines() == [f"{p}: $.projections[1].weight[1]: expected 2 columns, got 3"]


def test_one_bad_file_among_good_ones(run_cli, tmp_path):
    bad = _write(tmp_path, "bad.json", '{"format": "neurodeploy.network/1", "n_inputs": 1,')
    code, out, err = run_cli("validate", EX / "model.json", bad)
    assert code == 2 and out.startswith("OK network")
    assert err.splitlines() == [f"{bad}: line 1 column 51: invalid JSON: Expecting property name enclosed in double quotes"]


def test_config_checked_against_its_profile(run_cli, tmp_path):
    cfg = _config()
    cfg["chips"] = [dict(cfg["chips"][0], chip=i, position=[i, 0]) for i in range(5)]
    cfg["chips"][1]["cores"][0]["parameters"]["SOIF_LEEK_N"] = {"coarse": 1, "fine": 2}
    p = _write(tmp_path, "c.json", cfg)
    code, out, err = run_cli("validate", p)
    _assert_clean(code, out, err, p)
    assert f"{p}: $.chips: [max-chips] 5 chips, the profile allows at most 4" in err.splitlines()
    assert any("$.chips[1].cores[0].parameters.SOIF_LEEK_N: [parameter-name] unknown parameter" in ln for ln in err.splitlines())


def test_profile_hash_mismatch_is_a_warning(run_cli, tmp_path):
    p = _write(tmp_path, "c.json", _config(profile={"name": "dynapse2", "sha256": "0" * 64}))
    code, out, err = run_cli("validate", p)
    assert code == 0 and out.startswith("OK config")
    assert err.startswith(f"{p}: warning: $.profile.sha256: [profile-hash]")


def test_unknown_profile_and_format(run_cli, tmp_path):
    p = _write(tmp_path, "c.json", _config(profile={"name": "dynapse9", "sha256": ""}))
    code, out, err = run_cli("validate", p)
    _assert_clean(code, out, err, p)
    assert err.startswith(f"{p}: $.profile.name: cannot load profile 'dynapse9'") and len(err.splitlines()) == 1
    q = _write(tmp_path, "q.json", {"format": "neurodeploy.network/2"})
    code, out, err = run_cli("validate", q)
    _assert_clean(code, out, err, q)
    assert "unknown format 'neurodeploy.network/2'" in err


def test_bad_profile_yaml_and_odd_files(run_cli, tmp_path):
    y = tmp_path / "p.yaml"
    y.write_text(PROFILE.read_text().replace("max_chips: 4", "max_chips: -4").replace("table_file: dynapse2",
                                                                                     "table_file: " + str(PROFILE.parent) + "/dynapse2")
                 .replace("scale_curves_file: dynapse2", "scale_curves_file: " + str(PROFILE.parent) + "/dynapse2"))
    code, out, err = run_cli("validate", y)
    _assert_clean(code, out, err, y)
    assert "$.geometry.max_chips" in err
    binary = tmp_path / "b.json"
    binary.write_bytes(bytes(range(256)))
    deep = _write(tmp_path, "deep.json", "[" * 100000 + "]" * 100000)
    code, out, err = run_cli("validate", binary, deep, tmp_path, tmp_path / "missing.json")
    _assert_clean(code, out, err)
    assert len(err.splitlines()) == 4


# ---- fuzzing: every corruption gives one line per error and exit 2 -------------------------------------------
MODEL = json.loads((EX / "model.json").read_text())
_NUM = re.compile(r"(?<=[\[ :])-?\d+(\.\d+)?(e-?\d+)?(?=[,\]\n])")


def _mutations():
    text = (EX / "model.json").read_text()
    cfg_text = json.dumps(_config(), indent=1)
    nums = [m.span() for m in _NUM.finditer(text[:text.index('"metadata"')])]  # metadata is free-form
    return st.one_of(
        st.integers(1, len(text) - 2).map(lambda i: ("model.json", text[:i])),                               # truncated
        st.tuples(st.sampled_from(nums), st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "\"x\""]))
        .map(lambda a: ("model.json", text[:a[0][0]] + a[1] + text[a[0][1]:])),                               # bad number
        st.sampled_from(["populations", "projections", "outputs"]).map(lambda k: ("model.json", _model_with(k))),
        st.sampled_from(_SHAPE_BREAKERS).map(lambda f: ("model.json", json.dumps(f(json.loads(text))))),
        st.sampled_from(_CONFIG_BREAKERS).map(lambda f: ("config.json", json.dumps(f(json.loads(cfg_text))))),
        st.integers(1, len(cfg_text) - 2).map(lambda i: ("config.json", cfg_text[:i])),
    )


def _model_with(key):
    m = json.loads(json.dumps(MODEL))
    m[key][0]["surprise"] = 1  # unknown field
    return json.dumps(m)


def _set(path, value):
    def f(d):
        cur = d
        for k in path[:-1]:
            cur = cur[k]
        cur[path[-1]] = value
        return d
    return f


_SHAPE_BREAKERS = [
    _set(["projections", 0, "weight", 5], [0.1]),                     # wrong row length
    _set(["projections", 1, "weight"], [[0.0, 1.0]]),                 # wrong row count
    _set(["populations", 0, "Itau_mem"], -1e-12),                     # negative current
    _set(["populations", 0, "Iref"], [1e-10, 1e-10, 1e-10]),          # per-neuron list of the wrong length
    _set(["populations", 0, "size"], 0),
    _set(["projections", 0, "target"], "nobody"),
    _set(["projections", 0, "synapse"], "glutamate"),
    _set(["outputs", 0, "indices"], [5]),
    _set(["format"], "neurodeploy.network/0"),
    _set(["dt"], -0.001),
    _set(["n_inputs"], "sixty"),
]
_CONFIG_BREAKERS = [
    _set(["chips", 0, "cores", 0, "neurons", 0, "synapses", 0, 0], 2048),    # tag out of range
    _set(["chips", 0, "cores", 0, "neurons", 0, "synapses", 1, 2], "00012"),
    _set(["chips", 0, "cores", 0, "neurons", 0, "destinations", 0, "x_hop"], 8),
    _set(["chips", 0, "cores", 0, "neurons", 0, "destinations", 0, "core"], [True]),
    _set(["chips", 0, "cores", 0, "parameters", "SOIF_LEAK_N", "fine"], 256),
    _set(["chips", 0, "cores", 0, "neurons", 0, "latch_so_dcc"], True),
    _set(["outputs", 0, "neuron"], 4),
    _set(["inputs", 0, "destinations", 0, "chip"], 3),
    _set(["format"], "neurodeploy.config/2"),
    _set(["chips"], []),
]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(_mutations())
def test_fuzzed_files_give_one_line_errors_and_exit_2(run_cli, tmp_path, case):
    name, text = case
    p = tmp_path / name
    p.write_text(text)
    code, out, err = run_cli("validate", p)
    _assert_clean(code, out, err, p)
    assert out == ""


@pytest.mark.parametrize("breaker", _SHAPE_BREAKERS)
def test_each_model_breaker_through_other_commands(run_cli, tmp_path, breaker):
    """The same files through `export` (load_network): `error: ` lines, exit 2, no traceback."""
    p = tmp_path / "m.json"
    p.write_text(json.dumps(breaker(json.loads(json.dumps(MODEL)))))
    code, out, err = run_cli("export", p, "-o", tmp_path / "m.nir")
    assert code == 2 and "Traceback" not in err and err.startswith(f"error: {p}")
    assert not (tmp_path / "m.nir").exists()


def test_non_finite_metadata_is_rejected(run_cli, tmp_path):
    text = (EX / "model.json").read_text().replace('"seed": 2024', '"seed": 1e999')
    p = _write(tmp_path, "m.json", text)
    code, out, err = run_cli("validate", p)
    _assert_clean(code, out, err, p)
    assert err.splitlines() == [f"{p}: $.metadata.seed: numbers must be finite, got inf"]
    c = _write(tmp_path, "c.json", json.dumps(_config())[:-1] + ', "metadata": {"x": [1, -1e999]}}')
    code, out, err = run_cli("validate", c)
    _assert_clean(code, out, err, c)
    assert err.splitlines() == [f"{c}: $.metadata.x[1]: [finite] numbers must be finite, got -inf"]
