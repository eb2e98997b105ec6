"""The committed JSON Schemas in schemas/ match the pydantic models; the example files conform to them."""

import json
from pathlib import Path

import pytest

from neurodeploy.schema import SCHEMA_FILES, dumps_schema, schemas, stale_schemas

ROOT = Path(__file__).resolve().parents[1]


def test_committed_schemas_match_the_models():
    stale = stale_schemas(ROOT / "schemas")
    assert not stale, f"{stale} differ from the models: run `neurodeploy schema -o schemas/` and commit"


def test_schema_command_is_deterministic(run_cli, tmp_path):
    code, out, err = run_cli("schema", "-o", tmp_path)
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(SCHEMA_FILES)
    for name in SCHEMA_FILES:
        assert (tmp_path / name).read_text() == (ROOT / "schemas" / name).read_text()
    (tmp_path / "network.schema.json").write_text("{}\n")
    code, out, err = run_cli("schema", "--check", "-o", tmp_path)
    assert code == 2 and "network.schema.json: out of date" in err


def test_schemas_describe_the_formats():
    s = schemas()
    assert s["network.schema.json"]["properties"]["format"]["const"] == "neurodeploy.network/1"
    assert s["config.schema.json"]["properties"]["format"]["const"] == "neurodeploy.config/1"
    assert "table" not in s["profile.schema.json"]["properties"]  # runtime fields are not part of the YAML
    for sch in s.values():
        assert dumps_schema(sch) == dumps_schema(json.loads(dumps_schema(sch)))


def test_example_conforms_to_schema():
    jsonschema = pytest.importorskip("jsonschema")
    sch = json.loads((ROOT / "schemas" / "network.schema.json").read_text())
    jsonschema.validate(json.loads((ROOT / "examples" / "frozen_noise" / "model.json").read_text()), sch)
