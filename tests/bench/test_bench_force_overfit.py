"""The overfit bench on real EMT frames: small models fit 8 frames far below zero force."""

import yaml

from crystalbench.forces.emt_demo import generate_emt_frames
from crystalbench.forces.graphs import ForceGraphSpec, force_graph_metadata, write_force_graph_table
from crystalbench_bench.bench_force_overfit import bench_force_overfit, first_frames


def test_models_fit_a_few_frames_and_an_untrainable_one_does_not(tmp_path, capsys):
    frames = list(generate_emt_frames(0, n_systems=2))
    write_force_graph_table(frames, ForceGraphSpec(), tmp_path / "g.parquet",
                            force_graph_metadata(ForceGraphSpec(), "t", "radius6", ""))
    system, data = first_frames(tmp_path / "g.parquet", 8)
    assert len(data) == 8 and system == frames[0].system
    forcenet = {"hidden": 32, "interactions": 2, "decoder_hidden": 32}
    config = {"forces": {"models": {
        "fn": {"architecture": "forcenet", "params": forcenet, "train": {"lr": 1e-3}},
        "sn": {"architecture": "schnet_forces",
               "params": {"width": 32, "filters": 32, "interactions": 2}, "train": {"lr": 1e-3}},
        # control: a learning rate of 0 cannot move the model off its initial error
        "frozen": {"architecture": "forcenet", "params": forcenet, "train": {"lr": 0.0}}},
        "studies": {"s": {"models": ["fn", "sn", "frozen"]}}}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    rows = bench_force_overfit([tmp_path / "c.yaml"], "s", tmp_path / "g.parquet", steps=300)
    by_name = {r["model"]: r for r in rows}
    zero = rows[0]["zero_force"]
    assert by_name["fn"]["after"] < 0.3 * zero and by_name["sn"]["after"] < 0.3 * zero
    assert by_name["frozen"]["after"] == by_name["frozen"]["before"]
    assert "after / zero force" in capsys.readouterr().out
