"""The strict config: unknown keys at every level of the schema, model params per
architecture, --config overrides of numbers, and ``crystalbench graphs --spec``."""

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from snakemake.utils import update_config

from crystalbench.cli import main
from crystalbench.config_check import check_config
from crystalbench.core.schema import ConfigError, check_graph_spec, coerce_overrides, load_schema

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def demo() -> dict:
    """config/demo.yaml with every YAML anchor copied (a typo lands in one entry only)."""
    return json.loads(json.dumps(yaml.safe_load((REPO / "config/demo.yaml").read_text())))


def rename(mapping: dict, old: str, new: str) -> None:
    mapping[new] = mapping.pop(old)


def problems(config: dict, overrides: dict | None = None) -> list[str]:
    with pytest.raises(ConfigError) as err:
        check_config(config, overrides=overrides)
    return err.value.problems


def snakemake(*args: object) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run([BIN / "snakemake", "-n", "-s", REPO / "Snakefile", *args],
                          capture_output=True, text=True, env=env)


@pytest.mark.parametrize("configfiles", [
    ["config/config.yaml"], ["config/demo.yaml"], ["config/matbench_paper.yaml"],
    ["config/matbench_reduced.yaml"], ["config/demo.yaml", "config/forces_emt.yaml"],
    ["config/demo.yaml", "config/oc20_sample.yaml"]])
def test_shipped_configs_pass(configfiles):
    config: dict = {}
    for path in configfiles:  # merged as Snakemake merges several --configfile
        update_config(config, yaml.safe_load((REPO / path).read_text()))
    check_config(config)


def test_top_level_typo():
    config = demo()
    rename(config, "symprec", "symprek")
    config["min_distanse"] = 0.4
    assert problems(config) == ["config key 'symprek': unknown key; did you mean 'symprec'?",
                                "config key 'min_distanse': unknown key; "
                                "did you mean 'min_distance'?"]


def test_dataset_typo():
    config = demo()
    rename(config["datasets"]["demo_alloys"], "seed", "sed")
    assert problems(config) == [
        "config key 'datasets.demo_alloys.sed': unknown key; did you mean 'seed'?"]


def test_graph_entry_typo_and_value():
    config = demo()
    rename(config["graphs"]["asu-radius8-nn12"], "max_neighbors", "max_neighbor")
    config["graphs"]["asu-knn24"]["k"] = 2.5
    config["graphs"]["asu-knn12"]["edges"] = "knnn"
    assert problems(config) == [
        "config key 'graphs.asu-knn24.k': must be a positive integer, got 2.5",
        "config key 'graphs.asu-radius8-nn12.max_neighbor': unknown key; "
        "did you mean 'max_neighbors'?",
        # edge selections are names of crystal.graphs.EDGE_SELECTIONS, checked there
        "config key 'graphs.asu-knn12.edges': unknown edge selection 'knnn'; "
        "did you mean 'knn'?"]


def test_graph_entry_missing_key_names_the_rule():
    config = demo()
    del config["graphs"]["asu-radius4"]["cutoff"]
    assert problems(config) == [
        "config key 'graphs.asu-radius4.cutoff': missing (required when edges is 'radius')"]


def test_model_params_typo_per_architecture():
    config = demo()
    rename(config["models"]["cogn-demo"]["params"], "width", "widht")
    rename(config["models"]["congn-demo"]["params"], "area_basis", "area_bases")
    assert problems(config) == [
        "config key 'models.cogn-demo.params.widht': unknown key for architecture cogn; "
        "did you mean 'width'?",
        # coNGN is built by a factory (congn_config): its fields are NGNConfig's
        "config key 'models.congn-demo.params.area_bases': unknown key for architecture "
        "congn; did you mean 'area_basis'?"]


def test_force_model_params_typo():
    config = demo()
    rename(config["forces"]["models"]["schnet-forces-demo"]["params"], "filters", "filter")
    rename(config["forces"]["models"]["forcenet-noaug"]["params"], "hidden", "hiden")
    assert problems(config) == [
        "config key 'forces.models.forcenet-noaug.params.hiden': unknown key for "
        "architecture forcenet; did you mean 'hidden'?",
        "config key 'forces.models.schnet-forces-demo.params.filter': unknown key for "
        "architecture schnet_forces; did you mean 'filters'?"]


def test_model_params_values_are_checked_by_the_dataclass():
    config = demo()
    config["models"]["congn-demo"]["params"]["nested"] = [0, 7]
    assert problems(config) == [
        "config key 'models.congn-demo.params': nested block indices [7] outside 0..2"]


def test_train_section_typo():
    config = demo()
    config["train"] = {"thread": 8}
    assert problems(config) == ["config key 'train.thread': unknown key; did you mean 'threads'?"]


def test_model_train_typo():
    config = demo()
    rename(config["models"]["schnet-demo"]["train"], "epochs", "epoch")
    config["models"]["cogn-demo"]["train_by_dataset"] = {"demo_alloys": {"lr_ned": 1e-5}}
    assert problems(config) == [
        "config key 'models.cogn-demo.train_by_dataset.demo_alloys.lr_ned': unknown key; "
        "did you mean 'lr_end'?",
        "config key 'models.schnet-demo.train.epoch': unknown key; did you mean 'epochs'?"]


def test_schema_lists_what_the_code_knows():
    """The schema's hand-written keys and enums agree with the code they configure."""
    from crystalbench.core.numerics import PRECISIONS, Numerics
    from crystalbench.crystal.graphs import GraphSpec
    from crystalbench.crystal.train import TrainConfig
    from crystalbench.forces.train import ForceTrainConfig
    from crystalbench.models import ARCHITECTURES, FORCE_ARCHITECTURES

    schema = load_schema()
    models = schema["properties"]["models"]["additionalProperties"]["properties"]
    force_models = (schema["properties"]["forces"]["properties"]["models"]
                    ["additionalProperties"]["properties"])

    def names(cls):
        return [f.name for f in dataclasses.fields(cls)]

    assert list(schema["definitions"]["train"]["properties"]) == names(TrainConfig)
    assert list(force_models["train"]["properties"]) == names(ForceTrainConfig)
    execution = schema["properties"]["train"]["properties"]
    assert [k for k in execution if k in names(Numerics)] == names(Numerics)
    assert execution["precision"]["enum"] == list(PRECISIONS)
    assert {k: execution[k]["default"] for k in names(Numerics)} == dataclasses.asdict(Numerics())
    assert (list(schema["properties"]["graphs"]["additionalProperties"]["properties"])
            == names(GraphSpec))
    assert models["architecture"]["enum"] == list(ARCHITECTURES)
    # the one place a default lives is the schema; the code's fallbacks must agree with it
    from crystalbench.core.validation import DEFAULT_MIN_DISTANCE
    from crystalbench.crystal.symmetry import DEFAULT_SYMPREC

    assert schema["properties"]["min_distance"]["default"] == DEFAULT_MIN_DISTANCE
    assert schema["properties"]["symprec"]["default"] == DEFAULT_SYMPREC
    assert force_models["architecture"]["enum"] == list(FORCE_ARCHITECTURES)


def test_study_typos():
    config = demo()
    rename(config["studies"]["models"], "paired", "paried")
    rename(config["studies"]["asu"], "baseline", "baselin")
    assert problems(config) == [
        "config key 'studies.asu.baselin': unknown key; did you mean 'baseline'?",
        "config key 'studies.models.paried': unknown key; did you mean 'paired'?"]


def test_forces_section_typos():
    config = demo()
    forces = config["forces"]
    rename(forces, "folds", "fold")
    rename(forces["studies"]["forcenet_vs_physics"], "seeds", "seed")
    rename(forces["models"]["forcenet-demo"]["train"], "augment", "augmnt")
    rename(forces["datasets"]["emt_slabs"], "systems", "system")
    rename(forces["graphs"]["radius6-max50"], "cutoff", "cutof")
    assert problems(config) == [
        "config key 'forces.datasets.emt_slabs.system': unknown key; did you mean 'systems'?",
        "config key 'forces.graphs.radius6-max50.cutof': unknown key; did you mean 'cutoff'?",
        "config key 'forces.models.forcenet-demo.train.augmnt': unknown key; "
        "did you mean 'augment'?",
        "config key 'forces.studies.forcenet_vs_physics.seed': unknown key; "
        "did you mean 'seeds'?",
        "config key 'forces.fold': unknown key; did you mean 'folds'?"]


def test_forces_values():
    config = demo()
    config["forces"]["studies"]["forcenet_vs_physics"]["train_systems"] = [7, 0, "al"]
    assert problems(config) == [
        "config key 'forces.studies.forcenet_vs_physics.train_systems[1]': must be a positive "
        "integer or 'all', got 0",
        "config key 'forces.studies.forcenet_vs_physics.train_systems[2]': must be a positive "
        "integer or 'all', got 'al'; did you mean 'all'?"]


def test_schema_rules_in_words():
    config = demo()
    config["graphs"]["asu-knn24"]["k"] = 2.0  # JSON Schema's integers allow 2.0; ours do not
    config["graphs"]["asu knn"] = config["graphs"].pop("asu-knn12")
    config["studies"]["matbench"] = config["studies"].pop("asu")
    config["studies"]["connectivity"]["models"] = []
    config["forces"]["datasets"]["oc"] = {"source": "oc20"}
    config["forces"]["models"]["forcenet-demo"]["train"]["tag_weights"] = [1.0, 2.0]
    config["forces"]["studies"]["forcenet_vs_physics"]["seeds"] = [1, 2, 1]
    config["forces"]["studies"]["forcenet_vs_physics"]["train_systems"] = ["alll"]
    assert problems(config) == [
        "config key 'graphs.asu-knn24.k': must be a positive integer, got 2.0",
        "config key 'graphs.asu knn': invalid name (names match ^[A-Za-z0-9][A-Za-z0-9.-]*$)",
        "config key 'studies.connectivity.models': must be a list of at least 1 item, got []",
        "config key 'studies.matbench': the name 'matbench' is reserved",
        "config key 'forces.datasets.oc.files': missing (required when source is 'oc20' or "
        "'lmdb')",
        "config key 'forces.models.forcenet-demo.train.tag_weights': must be a list of 3 items, "
        "got [1.0, 2.0]",
        "config key 'forces.studies.forcenet_vs_physics.seeds': items must not repeat, got 1 "
        "more than once",
        "config key 'forces.studies.forcenet_vs_physics.train_systems[0]': must be a positive "
        "integer or 'all', got 'alll'; did you mean 'all'?"]


def test_matbench_section_typo():
    config = demo()
    config["matbench"] = {"local_dri": "../shared/data/matbench", "study": "asu"}
    assert problems(config) == [
        "config key 'matbench.local_dri': unknown key; did you mean 'local_dir'?"]


def test_preprocessing_typo():
    config = demo()
    config["preprocessing"] = {"thread": 2}
    assert problems(config) == [
        "config key 'preprocessing.thread': unknown key; did you mean 'threads'?"]


def test_snakemake_dry_run_reports_the_typos(tmp_path):
    config = demo()
    rename(config, "symprec", "symprek")
    rename(config["studies"]["models"], "paired", "paried")
    rename(config["models"]["cogn-demo"]["params"], "width", "widht")
    (tmp_path / "typos.yaml").write_text(yaml.safe_dump(config))
    result = snakemake("-d", tmp_path, "--configfile", tmp_path / "typos.yaml")
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "config key 'symprek': unknown key; did you mean 'symprec'?" in out
    assert "config key 'studies.models.paried': unknown key; did you mean 'paired'?" in out
    assert ("config key 'models.cogn-demo.params.widht': unknown key for architecture cogn; "
            "did you mean 'width'?") in out


def test_numeric_config_overrides_pass_a_dry_run(tmp_path):
    """Top-level and nested --config numbers (Snakemake hands the nested ones over as text),
    with the default config file, which the Snakefile skips when --config is given alone."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config/config.yaml").write_text((REPO / "config/demo.yaml").read_text())
    result = snakemake("-F", "-p", "--cores", "4", "-d", tmp_path, "--config", "folds=3",
                       'train={"threads": 2, "precision": "bfloat16", "fused_adam": true}',
                       'forces={"test_folds": [0, 1]}')
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    counts = dict(re.findall(r"^(train|s2ef_train)\s+(\d+)$", out, re.MULTILINE))
    assert counts == {"train": "27", "s2ef_train": "18"}  # 9 runs x 3 folds, 9 x 2 folds
    flags = r"--threads 2 --precision bfloat16 --fused-adam >"
    assert len(re.findall(r"crystalbench (?:s2ef-)?train .* " + flags, out)) == 45


def test_nested_overrides_are_read_as_the_schema_wants():
    config = demo()
    overrides = {"train": {"threads": "2", "device": "0", "tf32": "true"},
                 "models": {"cogn-demo": {"params": {"width": "32"}, "train": {"lr": "1e-3"}}},
                 "forces": {"studies": {"forcenet_vs_physics": {"train_systems": ["7", "all"]}},
                            "models": {"forcenet-demo": {"train": {"clip_grad_norm": "null",
                                                                   "augment": "false"}}}}}
    update_config(config, overrides)
    coerce_overrides(config, overrides, load_schema())
    assert config["train"] == {"device": "0", "threads": 2, "tf32": True}  # device stays text
    assert config["models"]["cogn-demo"]["params"]["width"] == 32
    assert config["models"]["cogn-demo"]["train"]["lr"] == 1e-3
    assert config["forces"]["studies"]["forcenet_vs_physics"]["train_systems"] == [7, "all"]
    assert config["forces"]["models"]["forcenet-demo"]["train"]["clip_grad_norm"] is None
    assert config["forces"]["models"]["forcenet-demo"]["train"]["augment"] is False
    check_config(config)


def test_override_errors_say_which_form_to_use():
    config = demo()
    config["train"] = 2
    assert problems(config, overrides={"train": 2}) == [
        "config key 'train': must be a mapping, got 2 (a nested value on the command line: "
        "--config 'train={\"key\": value}')"]
    config = demo()
    config["train"]["threads"] = "two"
    assert problems(config, overrides={"train": {"threads": "two"}}) == [
        "config key 'train.threads': must be a positive integer, got 'two'"]


@pytest.mark.parametrize(("spec", "message"), [
    ({"k": 2.5}, "graph spec key 'k': must be a positive integer, got 2.5"),
    ({"k": 2.0}, "graph spec key 'k': must be a positive integer, got 2.0"),
    ({"k": 0.5}, "graph spec key 'k': must be a positive integer, got 0.5"),
    ({"k": 0}, "graph spec key 'k': must be a positive integer, got 0"),
    ({"k": 12, "line_grahp": True}, "graph spec key 'line_grahp': unknown key; "
                                    "did you mean 'line_graph'?"),
    ({}, "graph spec key 'k': missing (required when edges is 'knn')"),
])
def test_graphs_spec_errors(spec, message):
    spec = json.dumps({"representation": "asu", "edges": "knn", **spec})
    with pytest.raises(SystemExit) as err:
        main(["graphs", "--structures", "s", "--symmetry", "y", "--out", "o", "--dataset", "d",
              "--name", "n", "--spec", spec])
    assert err.value.code == message


def test_graphs_spec_error_through_the_command_line():
    spec = '{"representation":"asu","edges":"knn","k":2.5}'
    result = subprocess.run(
        [sys.executable, "-m", "crystalbench", "graphs", "--structures", "s", "--symmetry",
         "y", "--out", "o", "--dataset", "d", "--name", "n", "--spec", spec],
        capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.strip() == "graph spec key 'k': must be a positive integer, got 2.5"


def test_graph_spec_checker_is_the_configs():
    check_graph_spec({"representation": "cell", "edges": "voronoi", "min_area": 0.0})
    with pytest.raises(ConfigError, match=r"graph spec key 'representation': must be one of "
                                          r"'cell', 'asu', got 'asd'; did you mean 'asu'\?"):
        check_graph_spec({"representation": "asd", "edges": "knn", "k": 2})
