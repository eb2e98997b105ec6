"""Chip-level parameter maps in config.json: the shape, the encoder's defaults, byte-exact round trips, and
that decoding (emulation) does not depend on them."""

import json

import numpy as np
import pytest

from samna_helpers import example_config, four_chip_config

from neurodeploy.config.decode import decode
from neurodeploy.config.config_json import config_from_dict, load_config
from neurodeploy.config.state import board_state, encode_state
from neurodeploy.errors import ConfigError

from test_validate import _config


def _groups(chip):
    return {"global_parameters": {n: (c.coarse, c.fine) for n, c in chip.global_parameters.items()},
            "shared_parameters": {p: {n: (c.coarse, c.fine) for n, c in m.items()} for p, m in chip.shared_parameters.items()},
            "sadc_group_parameters": {p: [{n: (c.coarse, c.fine) for n, c in m.items()} for m in ms]
                                      for p, ms in chip.sadc_group_parameters.items()}}


def test_every_chip_of_a_made_config_carries_the_profile_defaults(profile):
    cfg = four_chip_config()
    shared = profile.chip_parameters.defaults("shared")
    sadc = profile.chip_parameters.defaults("sadc_group")
    assert [c.chip for c in cfg.chips] == [0, 1, 2, 3]
    for chip in cfg.chips:
        assert _groups(chip) == {"global_parameters": profile.chip_parameters.defaults("global"),
                                 "shared_parameters": {"01": shared, "23": shared},
                                 "sadc_group_parameters": {"01": [sadc] * 3, "23": [sadc] * 3}}
    assert shared == {"LBWR_VB_P": (5, 255), "PG_BUF_N": (0, 100), "NCCF_CAL_OFFBIAS_P": (1, 255)}


def test_chip_level_maps_are_one_line_each_before_the_cores():
    text = example_config().dumps()
    lines = text.splitlines()
    i = lines.index('   "global_parameters": {"R2R_BUFFER_AMPB": {"coarse": 5, "fine": 255}, '
                    '"R2R_BUFFER_CCB": {"coarse": 5, "fine": 255}},')
    assert lines[i - 1] == '   "position": [0, 0],'
    assert lines[i + 1:i + 5] == [
        '   "shared_parameters": {',
        '    "01": {"LBWR_VB_P": {"coarse": 5, "fine": 255}, "PG_BUF_N": {"coarse": 0, "fine": 100}, '
        '"NCCF_CAL_OFFBIAS_P": {"coarse": 1, "fine": 255}},',
        '    "23": {"LBWR_VB_P": {"coarse": 5, "fine": 255}, "PG_BUF_N": {"coarse": 0, "fine": 100}, '
        '"NCCF_CAL_OFFBIAS_P": {"coarse": 1, "fine": 255}}',
        '   },']
    sadc = ('{"NCCF_PWLK_P": {"coarse": 5, "fine": 160}, "NCCF_HYS_P": {"coarse": 0, "fine": 0}, "NCCF_BIAS_P": '
            '{"coarse": 5, "fine": 200}, "NCCF_REF_L_V": {"coarse": 0, "fine": 100}, "NCCF_REF_H_V": {"coarse": 3, "fine": 80}}')
    assert lines[i + 5:i + 17] == (['   "sadc_group_parameters": {', '    "01": ['] + [f"     {sadc},"] * 2
                                   + [f"     {sadc}", "    ],", '    "23": ['] + [f"     {sadc},"] * 2
                                   + [f"     {sadc}", "    ]", "   },"])
    assert lines[i + 17] == '   "cores": ['
    assert json.loads(text)["chips"][0]["sadc_group_parameters"]["23"][2]["NCCF_REF_H_V"] == {"coarse": 3, "fine": 80}


def test_a_config_without_chip_level_maps_is_written_without_them():
    cfg = config_from_dict(_config())
    assert all(not any(_groups(c).values()) for c in cfg.chips)
    assert list(json.loads(cfg.dumps())["chips"][0]) == ["chip", "position", "cores"]


def test_chip_level_maps_round_trip_byte_for_byte(tmp_path):
    raw = _config()
    raw["chips"][0]["shared_parameters"] = {"23": {"PG_BUF_N": {"coarse": 0, "fine": 100}}, "01": {}}
    raw["chips"][0]["sadc_group_parameters"] = {"23": [{"NCCF_HYS_P": {"coarse": 0, "fine": 0}}, {}, {}]}
    text = config_from_dict(raw).dumps()
    p = tmp_path / "c.json"
    p.write_text(text)
    assert load_config(p).dumps() == text                                  # the fast path
    assert config_from_dict(json.loads(text), "slow").dumps() == text      # and json.loads + validation
    # the file keeps the order given (pairs, names)
    chip = json.loads(text)["chips"][0]
    assert list(chip["shared_parameters"]) == ["23", "01"] and "global_parameters" not in chip


@pytest.mark.parametrize("edit, where", [
    (lambda ch: ch.update(shared_parameters={"02": {}}), "$.chips[0].shared_parameters.02"),
    (lambda ch: ch.update(sadc_group_parameters={"01": [{}, {}]}), "$.chips[0].sadc_group_parameters.01"),
    (lambda ch: ch.update(global_parameters={"R2R_BUFFER_CCB": {"coarse": 6, "fine": 0}}),
     "$.chips[0].global_parameters.R2R_BUFFER_CCB.coarse"),
    (lambda ch: ch.update(sadc_group_parameters={"23": [{}, {}, {"NCCF_BIAS_P": {"coarse": 1}}]}),
     "$.chips[0].sadc_group_parameters.23[2].NCCF_BIAS_P.fine"),
])
def test_malformed_chip_level_maps_name_the_json_path(tmp_path, edit, where):
    raw = _config()
    edit(raw["chips"][0])
    p = tmp_path / "c.json"
    p.write_text(json.dumps(raw))
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert any(ln.startswith(f"{p}: {where}") for ln in e.value.lines), e.value.lines


def test_board_state_keeps_chip_level_maps_and_decoding_ignores_them(profile):
    cfg = example_config()
    assert encode_state(board_state(cfg)).dumps() == cfg.dumps()
    d = cfg.model_dump(mode="json")
    for key in ("global_parameters", "shared_parameters", "sadc_group_parameters"):
        d["chips"][0].pop(key)
    bare = config_from_dict(d)
    assert bare.dumps() != cfg.dumps()
    a, b = decode(cfg, profile), decode(bare, profile)
    for q in a.params:
        np.testing.assert_array_equal(a.params[q], b.params[q])
    for f in ("sites", "src", "dst", "dendrite", "weight", "mask"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
