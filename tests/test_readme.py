"""The README's quick start is the contract with newcomers and CI: keep them in step."""

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def quick_start_lines() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_quick_start_has_exactly_two_lines():
    demo, tests = quick_start_lines()
    assert "snakemake --cores all --configfile config/demo.yaml" in demo
    assert "--report results/report.html" in demo
    assert tests.endswith("pytest")
    assert demo.index("torch==2.13.0") < demo.index("pip install -e .")


def test_ci_runs_the_readme_test_line_verbatim():
    _, tests = quick_start_lines()
    ci = (REPO / ".ci/run").read_text().splitlines()
    assert ci[-1] == tests


def test_relative_links_in_the_docs_resolve():
    """README and docs/ link each other and the kept results: every relative link exists."""
    pages = [REPO / "README.md", REPO / "benchmarks/README.md",
             *sorted((REPO / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)\)", page.read_text()):
            if "://" not in target and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(REPO)} -> {target}")
    assert not broken, broken


def test_commands_named_in_the_docs_exist():
    """Every ``crystalbench <step>`` and ``crystalbench-bench <name>`` the docs mention is a
    subcommand of that command."""
    from crystalbench.cli import parser as pipeline
    from crystalbench_bench.cli import parser as bench

    def subcommands(p) -> set[str]:
        return set(next(a for a in p._actions if a.dest == "command").choices)

    known = {"crystalbench": subcommands(pipeline()), "crystalbench-bench": subcommands(bench())}
    pages = [REPO / "README.md", REPO / "benchmarks/README.md",
             *sorted((REPO / "docs").glob("*.md")), *sorted((REPO / "workflow/rules").glob("*"))]
    unknown = [(page.name, prog, name) for page in pages
               # as a command: in backticks, at the start of a line, or in a rule's shell string
               for prog, name in re.findall(r"(?:^\s*|[`\"])(crystalbench(?:-bench)?) "
                                            r"([a-z][a-z0-9-]+)", page.read_text(), re.M)
               if name not in known[prog]]
    assert not unknown, unknown


def documented_commands() -> list[str]:
    """Every ``snakemake`` and ``crystalbench(-bench)`` command of the README, docs/ and the
    benchmarks README: the lines of their bash blocks (continuations joined, comments
    dropped, split at ``&&``) and their inline code."""
    commands = []
    for page in [REPO / "README.md", REPO / "benchmarks/README.md",
                 *sorted((REPO / "docs").glob("*.md"))]:
        text = page.read_text()
        for block in re.findall(r"```bash\n(.+?)\n```", text, re.S):
            for line in block.replace("\\\n", " ").splitlines():
                commands += [" ".join(shlex.split(part, comments=True))
                             for part in line.split("&&")]
        commands += re.findall(r"`((?:snakemake|crystalbench)[^`]*)`", text)
    return [c for c in dict.fromkeys(commands)
            if re.match(r"(snakemake|crystalbench(-bench)?)( |$)", c)]


def test_the_docs_have_the_commands_this_test_runs():
    commands = documented_commands()
    assert any(c.startswith("snakemake --workflow-profile profiles/slurm") for c in commands)
    assert any("--report" in c for c in commands)
    assert any(c.startswith("crystalbench-bench ") for c in commands)


@pytest.mark.parametrize("command", documented_commands())
def test_every_documented_command_runs(command):
    """Workflow lines as dry runs (a report line as a dry run of its config), command-line
    steps with --help: a documented line that no longer parses cannot ship."""
    words = shlex.split(command)
    if words[0] == "snakemake":
        if "--report" in words:  # needs finished results: check that its config plans
            at = words.index("--report")
            del words[at:at + 2]
        args = [sys.executable, "-m", "snakemake", "-n", *words[1:]]
    else:
        bin_dir = Path(sys.executable).parent
        args = [str(bin_dir / words[0]), *words[1:2], "--help"]
    result = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]


def results_section() -> str:
    return (REPO / "README.md").read_text().split("## Results", 1)[1].split("\n## ", 1)[0]


def test_readme_matbench_table_equals_the_published_results():
    """Per fold, ours and the paper's coNGN as the published tables/matbench.csv has them,
    and the summary rows as computed from it (std with ddof=0, as MatBench)."""
    import numpy as np
    import pandas as pd

    published = pd.read_csv(REPO / "benchmarks/reproduction/matbench_paper/tables/matbench.csv")
    table = [line for line in results_section().splitlines()
             if line.startswith("| ") and "| fold |" in line or line.startswith("| jdft2d")
             or line.startswith("| phonons") or line.startswith("| | ")]
    readme, task = {}, None
    for line in table[1:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        task = f"matbench_{cells[0].split()[0]}" if cells[0] else task
        readme[(task, cells[1])] = cells[2:4]
    for task in ("matbench_jdft2d", "matbench_phonons"):
        rows = published[published["task"] == task].sort_values("fold")
        for fold, ours, paper in rows[["fold", "ours", "paper_coNGN"]].itertuples(index=False):
            assert readme[(task, str(fold))] == [f"{ours:.2f}", f"{paper:.2f}"], (task, fold)
    jdft2d = published[published["task"] == "matbench_jdft2d"]
    ours, paper = readme[("matbench_jdft2d", "**5-fold mean ± std**")]
    assert ours == f"**{jdft2d['ours'].mean():.2f} ± {np.std(jdft2d['ours']):.2f}**"
    assert paper.startswith(f"{jdft2d['paper_coNGN'].mean():.2f} ± "
                            f"{np.std(jdft2d['paper_coNGN']):.2f}")
    phonons = published[published["task"] == "matbench_phonons"]
    ours, paper = readme[("matbench_phonons", "folds 0-1")]
    assert ours == f"{phonons['ours'].mean():.2f}"
    assert paper.startswith(f"{phonons['paper_coNGN'].mean():.2f}")


def test_readme_kgcnn_table_equals_the_benchmark_summary():
    """The side-by-side table as crystalbench-bench kgcnn-train's summary.json has it."""
    import json

    summary = json.loads((REPO / "benchmarks/kgcnn_train/matbench_jdft2d/summary.json")
                         .read_text())
    row = {(r["variant"], r["epochs"]): r for r in summary}
    text = results_section()
    for (variant, epochs), r in row.items():
        if variant not in ("kgcnn", "kgcnn-torch-optimizer", "ours"):
            continue  # the ablations are in docs/reproduction.md
        assert f"{r['test_mae']:.2f} ± {r['test_mae_std']:.2f}" in text, (variant, epochs)
    for epochs in (200, 800):
        kgcnn, ours = row[("kgcnn", epochs)], row[("ours", epochs)]
        assert (f"| {ours['test_mae'] / kgcnn['test_mae']:.3f} | "
                f"{kgcnn['seconds_per_epoch']:.2f}, {ours['seconds_per_epoch']:.2f} |") in text


def test_readme_forcenet_table_equals_the_published_demo_run():
    """The demo's ForceNet table as the kept copy of a fresh-clone demo run has it
    (benchmarks/demo/forcenet_vs_physics.csv, one row per run): mean ± sample std over seeds."""
    import pandas as pd

    runs = pd.read_csv(REPO / "benchmarks/demo/forcenet_vs_physics.csv")
    runs["rotated_over_plain"] = runs["rotated_forces_l2mae"] / runs["forces_l2mae"]
    names = {("forcenet", True): "ForceNet | on", ("forcenet", False): "ForceNet | off",
             ("schnet_forces", False): "SchNet (direct force head) | off"}
    lines = results_section().splitlines()
    docs = (REPO / "docs/forces.md").read_text()  # its demo table, with the plateau and speed
    for (architecture, augment), group in runs.groupby(["architecture", "augment"]):
        cells = [f"{group[m].mean():{f}} ± {group[m].std(ddof=1):{f}}" for m, f in (
            ("forces_l2mae", ".4f"), ("forces_cos", ".3f"), ("rotated_over_plain", ".2f"))]
        row = f"| {names[(architecture, augment)]} | " + " | ".join(cells) + " |"
        assert row in lines, row
        assert len(group) == 3  # seeds 0-2
        name = names[(architecture, augment)].replace(" (direct force head)", "")
        plateau = ", ".join(str(int(s)) for s in group["plateau_steps"])
        speed = group["seconds_per_step"]
        assert (f"| {name} | " + " | ".join(cells) + f" | {plateau} | {speed.mean():.4f} ± "
                f"{speed.std(ddof=1):.4f} |") in docs, name
    zero = runs["zero_force_l2mae"].unique()
    assert len(zero) == 1 and f"| zero-force predictor | | {zero[0]:.4f} | 0 | |" in lines


def force_study_doc_rows(csv: str, names: dict[str, str], epochs: int | None) -> list[str]:
    """docs/forces.md rows of a kept force study (``csv`` under benchmarks/, one row per run):
    the label (for a data-size study, ``epochs`` None, followed by the training systems and
    epochs), mean ± sample std over seeds 0-2 of L2MAE, cos and rotated/plain, and each
    run's plateau step ("never" where it did not leave)."""
    import pandas as pd

    runs = pd.read_csv(REPO / "benchmarks" / csv)
    runs["rotated_over_plain"] = runs["rotated_forces_l2mae"] / runs["forces_l2mae"]
    assert set(runs["model"]) == set(names)
    data_size = epochs is None
    rows = []
    for (model, systems), group in runs.groupby(["model", "n_train_systems"]):
        assert sorted(group["seed"]) == [0, 1, 2] and group["epochs"].nunique() == 1
        assert data_size or (group["epochs"] == epochs).all()
        label = names[model] + (f" | {systems} | {group['epochs'].iloc[0]}" if data_size
                                else "")
        cells = [f"{group[m].mean():{f}} ± {group[m].std(ddof=1):{f}}" for m, f in (
            ("forces_l2mae", ".4f"), ("forces_cos", ".3f"), ("rotated_over_plain", ".2f"))]
        plateau = ", ".join("never" if pd.isna(s) else str(int(s))
                            for s in group.sort_values("seed")["plateau_steps"])
        rows.append(f"| {label} | " + " | ".join(cells) + f" | {plateau} |")
    return rows


@pytest.mark.parametrize("csv, epochs, names", [
    ("forces_emt/emt_forcenet_vs_physics.csv", 100, {
        "forcenet-emt": "ForceNet | on", "forcenet-emt-noaug": "ForceNet | off",
        "schnet-forces-emt": "SchNet (direct force head) | off",
        "dimenetpp-forces-emt": "DimeNet++ (direct force head) | off"}),
    ("forces_emt/emt_basis.csv", 100, {
        "forcenet-emt": "`sphallmul` (reference)", "forcenet-emt-gauss": "`gauss`",
        "forcenet-emt-powersine": "`powersine`", "forcenet-emt-linact": "`linact`",
        "forcenet-emt-raw": "`raw`"}),
    ("forces_emt/emt_plateau.csv", 100, {
        "forcenet-emt": "ForceNet | linear | on", "forcenet-emt-noaug": "ForceNet | linear | off",
        "forcenet-emt-warmup": "ForceNet | warmup_step | on"}),
    ("forces_emt/emt_activation.csv", 100, {
        "forcenet-emt": "swish (reference)", "forcenet-emt-relu": "relu",
        "forcenet-emt-softplus": "softplus", "forcenet-emt-tanh": "tanh"}),
    ("forces_emt/emt_systems.csv", None, {
        "forcenet-emt": "ForceNet", "schnet-forces-emt": "SchNet",
        "dimenetpp-forces-emt": "DimeNet++"}),
    ("forces_emt/emt_systems_steps.csv", None, {
        "forcenet-emt-steps": "ForceNet", "schnet-forces-emt-steps": "SchNet"}),
    ("oc20_sample/oc20_demo_width.csv", 50, {
        "forcenet-oc20-demo": "ForceNet | on", "forcenet-oc20-demo-noaug": "ForceNet | off",
        "schnet-forces-oc20-demo": "SchNet (direct force head) | off",
        "dimenetpp-forces-oc20-demo": "DimeNet++ (direct force head) | off"}),
    ("oc20_sample/oc20_plateau.csv", 150, {"forcenet-oc20-demo-long": "ForceNet | on"}),
])
def test_docs_force_study_tables_equal_the_kept_runs(csv, epochs, names):
    """docs/forces.md's force study tables as benchmarks/ keeps their runs."""
    docs = (REPO / "docs/forces.md").read_text().splitlines()
    for row in force_study_doc_rows(csv, names, epochs):
        assert row in docs, row


def test_docs_equal_time_errors_follow_from_the_kept_curves_and_the_speed_bench():
    """docs/forces.md's "in ForceNet's 100-epoch CPU time" numbers: the alone-measured
    s/step of benchmarks/README.md's force-speed output turn ForceNet's 100 epochs into
    each baseline's epochs; its held-out L2MAE at the last evaluation before that, over the
    seeds of the kept curves."""
    import pandas as pd

    bench = (REPO / "benchmarks/README.md").read_text()
    seconds_per_step = {m: float(re.search(rf"^{m}\s+\S+\s+\S+\s+[\d,]+\s+([\d.]+)\s", bench,
                                           re.M).group(1))
                        for m in ("forcenet-emt", "schnet-forces-emt", "dimenetpp-forces-emt")}
    curves = pd.read_csv(REPO / "benchmarks/forces_emt/emt_forcenet_vs_physics_curves.csv")
    steps_per_epoch = int(curves["step"].iloc[0] / curves["epoch"].iloc[0])
    forcenet_seconds = 100 * steps_per_epoch * seconds_per_step["forcenet-emt"]
    docs = " ".join((REPO / "docs/forces.md").read_text().split())
    assert f"({forcenet_seconds:.0f} s alone)" in docs
    for model, name in (("schnet-forces-emt", "SchNet"), ("dimenetpp-forces-emt", "DimeNet++")):
        epochs = forcenet_seconds / (steps_per_epoch * seconds_per_step[model])
        runs = curves[curves["model"] == model]
        epoch = runs["epoch"][runs["epoch"] <= epochs].max()
        at = runs[runs["epoch"] == epoch]["val_forces_l2mae"]
        assert len(at) == 3
        text = f"{name} reaches {at.mean():.3f} ± {at.std(ddof=1):.3f} (its epoch {epoch})"
        assert text in docs, text


def test_docs_sphallmul_scale_check_equals_its_kept_rows():
    """docs/forces.md's ocp-scale sphallmul numbers, from the bench's kept CSV, whose
    "ours" column must be the comparison's kept forcenet-emt runs."""
    import pandas as pd

    check = pd.read_csv(REPO / "benchmarks/forces_emt/sphallmul_reference_scale.csv")
    kept = pd.read_csv(REPO / "benchmarks/forces_emt/emt_forcenet_vs_physics.csv")
    ours = kept[kept["model"] == "forcenet-emt"].set_index("seed")["forces_l2mae"]
    assert check.set_index("seed")["L2MAE ours"].to_dict() == pytest.approx(ours.to_dict())
    docs = " ".join((REPO / "docs/forces.md").read_text().split())
    ocp, mine = check["L2MAE ocp scale"], check["L2MAE ours"]
    text = (f"ForceNet reaches {ocp.mean():.4f} ± {ocp.std(ddof=1):.4f} against "
            f"{mine.mean():.4f} ± {mine.std(ddof=1):.4f} with ours")
    assert text in docs, text
    plateau = check["plateau ocp scale"]
    assert f"({plateau.min()}-{plateau.max()} steps against" in docs


OC20_RUNS = REPO / "benchmarks/oc20_sample/runs/oc20_sample"


def test_docs_oc20_training_fit_and_unseen_elements_follow_from_the_kept_runs():
    """docs/forces.md's OC20-sample training fit (final training loss over the zero-force
    training loss, mean ± std over seeds 0-2) from the kept runs' history and metrics, and its
    list of untrained test elements as the runs that recorded it name them."""
    import pandas as pd

    docs = " ".join((REPO / "docs/forces.md").read_text().split())
    unseen: set[str] = set()
    for model, name in (("schnet-forces-oc20-demo", "SchNet"),
                        ("dimenetpp-forces-oc20-demo", "DimeNet++"),
                        ("forcenet-oc20-demo", "ForceNet with augmentation"),
                        ("forcenet-oc20-demo-noaug", "ForceNet without"),
                        ("forcenet-oc20-demo-long", "ForceNet at 150 epochs")):
        fits = []
        for seed in (0, 1, 2):
            run = OC20_RUNS / model / "radius6-max50/fold0/systems-all" / f"seed{seed}"
            metrics = json.loads((run / "metrics.json").read_text())
            history = pd.read_csv(run / "history.csv")
            fits.append(history["train_loss"].iloc[-1] / metrics["zero_force_train_loss"])
            if "unseen_test_elements" in metrics:
                unseen.add(metrics["unseen_test_elements"])
        fits = pd.Series(fits)
        text = f"{name} {fits.mean():.2f} ± {fits.std(ddof=1):.2f}"
        assert text in docs, text
    assert unseen == {"Na,Mo,Rh,Tl"}  # every run that recorded it names the same four
    assert "Na, Tl, Mo and Rh" in docs
    step = pd.read_csv(REPO / "benchmarks/oc20_sample/oc20_demo_width.csv").groupby(
        "model")["seconds_per_step"].mean()
    assert (step["schnet-forces-oc20-demo"] < step["forcenet-oc20-demo"]
            < step["dimenetpp-forces-oc20-demo"])
    assert "SchNet's training step is the fastest, then ForceNet's, and DimeNet++'s" in docs


def test_docs_oc20_outlier_control_equals_its_kept_rows():
    """docs/forces.md's outlier control: per mode, the final training loss over the
    zero-force training loss, mean ± std over seeds 0-2, and no run leaving the plateau."""
    import pandas as pd

    rows = pd.read_csv(REPO / "benchmarks/oc20_sample/outlier_control.csv")
    docs = " ".join((REPO / "docs/forces.md").read_text().split())
    assert rows["plateau steps"].isna().all()
    for mode, name in (("drop", "without it"), ("scale", "with it outside the scale")):
        group = rows[rows["mode"] == mode]
        assert sorted(group["seed"]) == [0, 1, 2]
        fit = group["final train loss"] / group["zero-force train loss"]
        text = f"{name} {fit.mean():.2f} ± {fit.std(ddof=1):.2f}"
        assert text in docs, text


def test_docs_oc20_element_errors_equal_the_kept_rows():
    """docs/forces.md's held-out L2MAE on atoms of trained / untrained elements, from
    element_errors.py's kept CSV, which must cover every seed of every model."""
    import pandas as pd

    rows = pd.read_csv(REPO / "benchmarks/oc20_sample/element_errors.csv")
    docs = (REPO / "docs/forces.md").read_text()
    for (model, atoms), group in rows.groupby(["model", "atoms"]):
        assert sorted(group["seed"]) == [0, 1, 2]
        text = (f"| {model} | {atoms} | {group['forces_l2mae'].mean():.3f} ± "
                f"{group['forces_l2mae'].std(ddof=1):.3f} | "
                f"{group['zero_force_l2mae'].iloc[0]:.3f} |")
        assert text in docs, text
