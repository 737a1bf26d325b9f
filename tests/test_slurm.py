"""The SLURM profile on a real one-node SLURM cluster: munged, slurmctld and slurmd from
Debian's packages (`.ci/run` installs them), one fake GPU in gres.conf, no accounting.

The cluster's configuration goes to /etc/slurm (where srun inside a job looks for it), so the
test needs root and refuses to touch a machine that already has a SLURM configuration. With
CRYSTALBENCH_REQUIRE_SLURM=1 (CI) anything missing fails the test instead of skipping it.
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from itertools import pairwise
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SLURM_ETC = Path("/etc/slurm")


def unavailable(reason: str) -> None:
    if os.environ.get("CRYSTALBENCH_REQUIRE_SLURM"):
        pytest.fail(f"SLURM test required but {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {seconds:.0f} s")
        time.sleep(0.5)


def node_memory_mb() -> int:
    total_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())[1])
    return total_kb // 1024 * 3 // 4  # slurmd refuses a node that claims more than it has


@pytest.fixture(scope="module")
def slurm_cluster():
    """Start munged, slurmctld and slurmd; yield the folder; stop them by PID afterwards."""
    for daemon in ("munged", "slurmctld", "slurmd", "sbatch"):
        if shutil.which(daemon) is None:
            unavailable(f"{daemon} is not installed (apt-get install slurm-wlm munge)")
    if os.geteuid() != 0:
        unavailable("starting slurmd and writing /etc/slurm need root")
    if (SLURM_ETC / "slurm.conf").exists():
        unavailable("/etc/slurm/slurm.conf exists: this machine has its own SLURM")
    pytest.importorskip("snakemake_executor_plugin_slurm")
    folder = Path(tempfile.mkdtemp(prefix="cbslurm"))  # short: the munge socket path
    for sub in ("state", "spool", "log", "munge"):
        (folder / sub).mkdir()
    key = folder / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    socket_path = folder / "munge" / "munge.socket.2"
    host, user = socket.gethostname().split(".")[0], getpass.getuser()
    SLURM_ETC.mkdir(exist_ok=True)
    (SLURM_ETC / "slurm.conf").write_text(f"""\
ClusterName=crystalbench-ci
SlurmctldHost={host}
SlurmUser={user}
SlurmdUser={user}
AuthType=auth/munge
AuthInfo=socket={socket_path}
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/log/slurmctld.log
SlurmdLogFile={folder}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
MinJobAge=3600
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
NodeName={host} CPUs={os.cpu_count()} RealMemory={node_memory_mb()} Gres=gpu:1 State=UNKNOWN
PartitionName=ci Nodes=ALL Default=YES MaxTime=INFINITE State=UP
""")
    # one fake GPU: SLURM needs a device file, never opens it, and schedules one job on it
    (SLURM_ETC / "gres.conf").write_text(f"NodeName={host} Name=gpu File=/dev/null\n")
    pid_files = [folder / "munge" / "munged.pid", folder / "slurmctld.pid",
                 folder / "slurmd.pid"]
    try:
        subprocess.run(["munged", "--force", f"--socket={socket_path}", f"--key-file={key}",
                        f"--log-file={folder}/log/munged.log", f"--pid-file={pid_files[0]}",
                        f"--seed-file={folder}/munge/seed"], check=True)
        subprocess.run(["slurmctld"], check=True)
        subprocess.run(["slurmd"], check=True)
        wait_for(lambda: all(p.exists() for p in pid_files), "daemons' PID files")

        def node_idle() -> bool:
            state = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True,
                                   text=True).stdout.strip()
            return state == "idle"

        wait_for(node_idle, "an idle node")
        yield folder
    finally:
        for pid_file in reversed(pid_files):  # slurmd, slurmctld, munged
            if pid_file.exists():
                try:
                    os.kill(int(pid_file.read_text()), 15)
                except ProcessLookupError:
                    pass
        time.sleep(1)
        for name in ("slurm.conf", "gres.conf"):
            (SLURM_ETC / name).unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)


def finished_jobs() -> list[dict[str, str]]:
    """Every job slurmctld still remembers (MinJobAge), as key=value fields."""
    out = subprocess.run(["scontrol", "show", "job", "-o"], capture_output=True, text=True,
                         check=True).stdout
    return [dict(field.split("=", 1) for field in line.split() if "=" in field)
            for line in out.splitlines() if line.strip()]


def test_profile_runs_a_study_through_sbatch_with_one_job_per_gpu(slurm_cluster, tmp_path):
    """The `asu` study of the demo (two graphs x two folds, two epochs) submitted with the
    shipped profile: every non-local job goes through sbatch, the four training jobs each ask
    for the node's one GPU and never overlap, and the study's table is written."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--workflow-profile", "profiles/slurm",
         "-d", str(tmp_path), "--configfile", "config/demo.yaml",
         "--config", "folds=2", 'models={"cogn-demo": {"train": {"epochs": 2}}}',
         "--max-threads", "2",  # a 2-CPU node: preprocessing.threads is 4
         "--slurm-status-command", "squeue", "--slurm-no-account",  # no slurmdbd here
         "--slurm-init-seconds-before-status-checks", "2",
         "--seconds-between-status-checks", "2",
         "--set-resources", "train:mem_mb=2000",
         "--", "results/tables/asu.md"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=1500)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-5000:]
    assert (tmp_path / "results/tables/asu.md").exists()

    jobs = [j for j in finished_jobs() if j.get("Comment", "").startswith("rule_")]
    rules = sorted(re.match(r"rule_([a-z_0-9]+?)_wildcards", j["Comment"])[1] for j in jobs)
    assert rules == ["graphs", "graphs", "structures", "symmetry"] + ["train"] * 4, rules
    assert all(j["JobState"] == "COMPLETED" for j in jobs), jobs
    assert len(re.findall(r"submitted with SLURM jobid", out)) == len(jobs)  # none ran locally
    assert "rule aggregate" in out or "localrule aggregate" in out  # on the submitting node

    trains = [j for j in jobs if j["Comment"].startswith("rule_train_")]
    assert all(j.get("TresPerJob") == "gres:gpu:1" for j in trains)
    spans = sorted((datetime.fromisoformat(j["StartTime"]), datetime.fromisoformat(j["EndTime"]))
                   for j in trains)
    for (_, end), (start, _) in pairwise(spans):
        assert start >= end, f"two training jobs shared the one GPU: {spans}"
