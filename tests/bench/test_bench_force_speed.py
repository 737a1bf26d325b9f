"""The force-speed bench on real EMT frames: every model of a study timed, ratios to the first."""

import yaml

from crystalbench.forces.emt_demo import generate_emt_frames
from crystalbench.forces.graphs import ForceGraphSpec, force_graph_metadata, write_force_graph_table
from crystalbench.forces.splits import write_system_splits
from crystalbench_bench.bench_force_speed import bench_force_speed, merged_config, study_inputs


def test_force_speed_times_each_model_of_the_merged_study(tmp_path, capsys):
    frames = list(generate_emt_frames(0, n_systems=2))
    write_force_graph_table(frames, ForceGraphSpec(), tmp_path / "g.parquet",
                            force_graph_metadata(ForceGraphSpec(), "t", "radius6", ""))
    write_system_splits([f.id for f in frames], [f.system for f in frames],
                        tmp_path / "s.parquet", 2, 0)
    train = {"batch_size": 8, "augment": True}
    base = {"forces": {"models": {
        "fn": {"architecture": "forcenet", "train": train,
               "params": {"hidden": 8, "interactions": 1, "decoder_hidden": 8}},
        "sn": {"architecture": "schnet_forces", "train": {**train, "augment": False},
               "params": {"width": 8, "filters": 8, "interactions": 1}}},
        "studies": {"s": {"models": ["fn"]}}}}
    overlay = {"forces": {"studies": {"s": {"models": ["fn", "sn"]}}}}
    paths = [tmp_path / "base.yaml", tmp_path / "overlay.yaml"]
    for path, content in zip(paths, (base, overlay), strict=True):
        path.write_text(yaml.safe_dump(content))
    assert merged_config(paths)["forces"]["models"]["fn"]["train"] == train  # kept, not replaced
    rows = bench_force_speed(paths, "s", tmp_path / "g.parquet", tmp_path / "s.parquet",
                             epochs=2)
    assert [r["model"] for r in rows] == ["fn", "sn"] and rows[0]["augment"]
    assert all(r["seconds_per_step"] > 0 and r["inference_structures_per_s"] > 0 for r in rows)
    out = capsys.readouterr().out
    assert " 1.00x " in out and "ratio to fn" in out


def test_force_benches_default_to_the_named_studys_own_dataset():
    forces = merged_config(["config/demo.yaml", "config/oc20_sample.yaml"])["forces"]
    assert study_inputs(forces, "oc20_demo_width") == (
        "results/forces/graphs/oc20_sample/radius6-max50.parquet",
        "results/forces/splits/oc20_sample.parquet")
    assert study_inputs(forces, "forcenet_vs_physics")[0].startswith(
        "results/forces/graphs/emt_slabs/")
