"""Reruns after edits, determinism, diverging grid points, atomic outputs, full disks, damaged files, devices."""

from __future__ import annotations

import copy
import errno
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import REPO, SNAKEMAKE, TINY_CONFIG, planned_jobs, snakemake, write_config
from partbased.config import validate_config
from partbased.data import build_dataset, read_split, write_zarr
from partbased.grid import build_grid
from partbased.io import CorruptFileError, write_table
from partbased.metrics import SVMProtocol, evaluate
from partbased.models import build_model, load_model
from partbased.models.base import resolve_device
from partbased.run import run_point

DIVERGING = {  # an extreme learning rate: the loss overflows in the first epoch
    "type": "ae",
    "name": "ae_diverging",
    "datasets": ["bars"],
    "grid": {"k": [4]},
    "settings": {"epochs": 3, "lr": 1e20, "decoder_activation": "linear"},
}


def edited_copy(tiny_run, tmp_path, edit) -> dict[str, int]:
    """Jobs a dry run schedules after `edit` of the config of a finished run."""
    workdir = tmp_path / "edited"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    config = copy.deepcopy(TINY_CONFIG)
    edit(config)
    write_config(workdir, config)
    return planned_jobs(workdir)


def test_figure_setting_retrains_nothing(tiny_run, tmp_path):
    """A point's own figures are drawn by its evaluate_model job (one torch start per point, not two), so a
    figure setting reruns the evaluations, the figures and the table they feed, never a training."""
    jobs = edited_copy(tiny_run, tmp_path, lambda c: c["figures"].update(dpi=50))
    assert jobs == {
        "evaluate_model": 8, "aggregate_metrics": 1, "check_claims": 1, "render_metrics_table": 1,
        "plot_metrics": 2, "plot_comparison": 2, "plot_penalties": 1, "all": 1,
    }  # fmt: skip


def test_per_point_figures_off_drops_them_and_redraws_nothing(tiny_run, tmp_path):
    """figures.per_point: false (large grids) leaves the per-point figures out of the targets and out of
    the evaluate_model jobs' outputs; the finished run then has nothing left to do, and a fresh one plans
    no figure of a point."""
    assert edited_copy(tiny_run, tmp_path, lambda c: c["figures"].update(per_point=False)) == {}
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    config = copy.deepcopy(TINY_CONFIG)
    config["figures"]["per_point"] = False
    write_config(fresh, config)
    jobs = planned_jobs(fresh)
    assert jobs["train_model"] == jobs["evaluate_model"] == 8 and jobs["plot_metrics"] == 2
    dry_run = snakemake(fresh, "-n", "--cores", "1")
    assert "metrics.csv" in dry_run.stdout and "atoms.png" not in dry_run.stdout + dry_run.stderr


def test_model_wide_setting_reruns_only_that_model(tiny_run, tmp_path):
    jobs = edited_copy(tiny_run, tmp_path, lambda c: c["models"][2]["settings"].update(epochs=11))
    ae_points = 2 * 2  # datasets x beta values
    assert jobs == {
        "train_model": ae_points,
        "evaluate_model": ae_points,
        "aggregate_metrics": 1,
        "check_claims": 1,
        "render_metrics_table": 1,
        "plot_metrics": 2,
        "plot_comparison": 2,
        "all": 1,
    }


def test_evaluation_setting_reruns_evaluation_not_training(tiny_run, tmp_path):
    jobs = edited_copy(tiny_run, tmp_path, lambda c: c["evaluation"]["svm"].update(n_C=4))
    assert jobs == {
        "evaluate_model": 8, "aggregate_metrics": 1, "check_claims": 1, "render_metrics_table": 1, "plot_metrics": 2,
        "plot_comparison": 2, "all": 1,
    }


@pytest.fixture(scope="module")
def second_run(tmp_path_factory):
    """The tiny config plus one diverging point, run in another fresh directory."""
    workdir = tmp_path_factory.mktemp("second")
    config = copy.deepcopy(TINY_CONFIG)
    config["models"].append(DIVERGING)
    write_config(workdir, config)
    snakemake(workdir, "--cores", "2")
    return workdir


def test_same_config_and_seed_give_identical_metrics(tiny_run, second_run):
    first = pd.read_csv(tiny_run / "results" / "metrics.csv", dtype_backend="numpy_nullable")  # an all-int column with a diverged (empty) row is still ints
    second = pd.read_csv(second_run / "results" / "metrics.csv", dtype_backend="numpy_nullable")
    second = second[second["model"] != "ae_diverging"]
    columns = [c for c in first.columns if c != "train_seconds"]  # wall-clock time is the one thing that may differ
    pd.testing.assert_frame_equal(first[columns].reset_index(drop=True), second[columns].reset_index(drop=True), check_exact=True)


def test_diverging_point_is_recorded_not_fatal(tiny_run, second_run):
    table = pd.read_csv(second_run / "results" / "metrics.csv")
    bad = table[table["model"] == "ae_diverging"]
    assert len(bad) == 1 and bad["status"].item() == "diverged"
    assert bad[["recon_error", "hoyer_codes", "dilation_error"]].isna().all().all()
    others = table[table["model"] != "ae_diverging"]
    assert len(others) == 8 and (others["status"] == "ok").all() and others["recon_error"].notna().all()
    checkpoint = next((second_run / "results" / "models" / "bars" / "ae_diverging").glob("**/model.pt"))
    model = load_model(checkpoint)
    assert model.diverged and "epoch 0" in model.metadata["error"]
    assert len(model.history) < DIVERGING["settings"]["epochs"]  # stopped early
    figure = second_run / "results" / "figures" / "bars" / "all-models" / "metrics.png"  # a one-point grid: no figure of its own
    assert figure.read_bytes()[:4] == b"\x89PNG"


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    model = build_model("pca", {"k": 2}).fit(np.random.default_rng(0).random((20, 9), dtype=np.float32))
    target = tmp_path / "model.pt"

    def half_write(obj, f, *args, **kwargs):
        f.write(b"partial")
        raise OSError("killed mid-write")

    monkeypatch.setattr(torch, "save", half_write)
    with pytest.raises(OSError, match="killed"):
        model.save(target)
    assert list(tmp_path.iterdir()) == []  # neither the checkpoint nor a temporary


def test_table_write_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "metrics.csv"
    target.write_text("old,complete\n1,2\n")

    def fail(self, path, **kwargs):
        open(path, "w").write("dataset,mo")
        raise OSError("killed mid-write")

    monkeypatch.setattr(pd.DataFrame, "to_csv", fail)
    with pytest.raises(OSError):
        write_table(pd.DataFrame({"a": [1]}), target)
    assert target.read_text() == "old,complete\n1,2\n"  # the old complete table, not a torn one
    assert list(tmp_path.iterdir()) == [target]


# --------------------------------------------------------------------------- a results disk that fills up


@pytest.fixture
def small_disk(tmp_path):
    """A 256 KiB tmpfs: writes of more than that fail part way with ENOSPC. Root only (mount)."""
    if os.geteuid() != 0:
        pytest.skip("a full disk is simulated with a small tmpfs, which only root can mount")
    mount = tmp_path / "disk"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def incompressible(n: int, pixels: int = 64) -> np.ndarray:
    return np.random.default_rng(0).random((n, pixels), dtype=np.float32)


def test_full_disk_leaves_the_old_checkpoint_and_says_so(small_disk):
    target = small_disk / "model.pt"
    small = build_model("nmf", {"k": 2})
    small.load_state_dict({"W": torch.rand(2, 64)})
    small.save(target)
    big = build_model("nmf", {"k": 64})
    big.load_state_dict({"W": torch.rand(64, 4096)})  # 1 MiB, four times the disk
    with pytest.raises(OSError, match=r"no space left on the device of .*model\.pt") as raised:
        big.save(target)
    assert raised.value.errno == errno.ENOSPC
    assert sorted(p.name for p in small_disk.iterdir()) == ["model.pt"]  # no temporary left behind
    np.testing.assert_array_equal(load_model(target).atoms, small.atoms)  # the earlier complete checkpoint


def test_full_disk_leaves_no_table(small_disk):
    target = small_disk / "metrics.csv"
    with pytest.raises(OSError, match=r"no space left on the device of .*metrics\.csv"):
        write_table(pd.DataFrame(incompressible(5000)), target)  # ~3 MB of text
    assert list(small_disk.iterdir()) == []


def test_full_disk_leaves_no_store(small_disk):
    ds = build_dataset(incompressible(2000).reshape(2000, 8, 8), np.arange(2000) % 10, 0.2, 0, {"source": "digits"})
    target = small_disk / "digits.zarr"
    with pytest.raises(OSError, match=r"no space left on the device of .*digits\.zarr"):
        write_zarr(ds, target)  # 512 KB of float32 noise, which zstd cannot shrink
    assert list(small_disk.iterdir()) == []


# --------------------------------------------------------------------------- files damaged after they were written


def flip_byte(path, at: float) -> None:
    """Invert one byte at fraction `at` of the file, as a bad disk block or a stray write would."""
    data = bytearray(path.read_bytes())
    data[int(len(data) * at)] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.fixture
def store(tmp_path, digits):
    ds = build_dataset(digits.reshape(-1, 8, 8), (np.arange(len(digits)) % 10), 0.3, 0, {"source": "digits"})
    path = tmp_path / "digits.zarr"
    write_zarr(ds, path)
    return path


def test_store_reads_back_what_was_written(store, digits):
    train, test = read_split(store, "train"), read_split(store, "test")
    assert len(train.x) + len(test.x) == len(digits)
    rows = {row.tobytes() for row in digits}
    assert all(row.tobytes() in rows for row in np.concatenate([train.x, test.x]))


@pytest.mark.parametrize("damage", ["other numbers", "undecodable", "missing"])
def test_damaged_store_chunk_is_named(store, damage):
    chunk = store / "image" / "c" / "1" / "0" / "0"  # rows 1000-1796
    if damage == "missing":
        chunk.unlink()  # zarr would read its fill value (NaN)
    else:  # the middle of a zstd frame decodes to other numbers; its header does not decode
        flip_byte(chunk, 0.5 if damage == "other numbers" else 0.0)
    with pytest.raises(CorruptFileError) as raised:
        read_split(store, "train")
    message = str(raised.value)
    assert str(chunk) in message and f"rm -r '{store}'" in message and "snakemake" in message
    assert raised.value.rebuild == store


@pytest.mark.parametrize("damage", ["flipped byte", "truncated", "not a checkpoint"])
def test_damaged_checkpoint_is_named(tmp_path, digits, damage):
    path = tmp_path / "model.pt"
    build_model("nmf", {"k": 4, "max_iter": 5, "encode_iter": 5}).fit(digits).save(path)
    if damage == "flipped byte":
        flip_byte(path, 0.5)  # inside W: torch.load alone returns other numbers
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        path.write_text("not a checkpoint\n")
    with pytest.raises(CorruptFileError) as raised:
        load_model(path)
    assert str(path) in str(raised.value) and f"rm -r '{path}'" in str(raised.value)


class RunsCode:
    """A pickled object whose unpickling would run code (here: create a file)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_checkpoint_that_would_run_code_is_refused(tmp_path):
    marker, path = tmp_path / "code-ran", tmp_path / "model.pt"
    torch.save({"model": "pca", "config": {"k": 2}, "state": None, "metadata": {"x": RunsCode(marker)}}, path)
    with pytest.raises(CorruptFileError, match="other than tensors and plain types"):
        load_model(path)
    assert not marker.exists()


def test_numpy_metadata_is_saved_as_plain_types(tmp_path, digits):
    model = build_model("pca", {"k": 2}).fit(digits)
    model.metadata.update(train_seconds=np.float64(1.5), n_train=np.int64(7), shape=(np.int64(8), 8))
    model.save(tmp_path / "model.pt")
    payload = torch.load(tmp_path / "model.pt", weights_only=True)  # the safe loader takes it as written
    assert payload["metadata"] == {"train_seconds": 1.5, "n_train": 7, "shape": [8, 8]}
    assert type(payload["metadata"]["n_train"]) is int
    model.metadata["odd"] = object()
    with pytest.raises(TypeError, match=r"\['metadata'\]\['odd'\] is a object"):
        model.save(tmp_path / "other.pt")


# --------------------------------------------------------------------------- the GPU path, without a GPU


OTHER_DEVICE = "cuda" if torch.cuda.is_available() else "cpu:0"  # a real second device when there is one
DEVICE_PARAMS = {
    "nmf": {"k": 6, "max_iter": 20, "encode_iter": 20},
    "ae": {"k": 6, "epochs": 3, "batch_size": 64, "lr": 0.01},
    "pae_nmf": {"k": 6, "epochs": 3, "batch_size": 128},
    "sparse_nmf": {"k": 6, "max_iter": 20, "encode_iter": 20},
    "nmf_sc": {"k": 6, "max_iter": 5, "encode_iter": 5},
}


@pytest.mark.parametrize("family", sorted(DEVICE_PARAMS))
def test_evaluation_loads_on_the_cpu_whatever_trained(tmp_path, digits, family):
    """A checkpoint whose config names CUDA (trained there) loads, encodes and decodes on the CPU."""
    model = build_model(family, {**DEVICE_PARAMS[family], "device": "cpu"}).fit(digits[:400])
    model.config.device = "cuda"  # as a GPU training would have saved it
    model.save(tmp_path / "model.pt")
    loaded = load_model(tmp_path / "model.pt")
    assert loaded.device == torch.device("cpu") and loaded.config.device == "cuda"
    np.testing.assert_array_equal(loaded.atoms, model.atoms)
    if family != "pae_nmf":  # pae_nmf's deterministic code is the median; the same on both
        np.testing.assert_array_equal(loaded.encode(digits[:50]), model.encode(digits[:50]))
    assert not torch.cuda.is_initialized()  # nothing above opened a GPU


@pytest.mark.parametrize("family", ["nmf", "ae"])
def test_trained_on_one_device_evaluates_the_same_on_another(tmp_path, digits, family):
    """run_point on two devices (CPU and CUDA when present; two CPU spellings otherwise), both evaluated on the CPU."""
    test = digits[1500:]
    results = {}
    for device in ("cpu", OTHER_DEVICE):
        folder = tmp_path / device.replace(":", "_")
        run_point(family, DEVICE_PARAMS[family], digits[:1500], folder / "model.pt", folder / "history.csv", device=device)
        model = load_model(folder / "model.pt")
        assert model.device == torch.device("cpu")
        assert model.metadata["device"] == str(resolve_device(device))
        results[device] = evaluate(model, test, None, (8, 8), SVMProtocol(), seed=0)  # no labels: no SVM
    a, b = results["cpu"], results[OTHER_DEVICE]
    for key in ("recon_error", "hoyer_codes", "dilation_error"):
        if OTHER_DEVICE == "cuda":  # other kernels, other rounding
            np.testing.assert_allclose(a[key], b[key], rtol=1e-3, err_msg=key)
        else:
            assert a[key] == b[key], key


# --------------------------------------------------------------------------- a large grid with failures


GRID_200 = {
    "datasets": [{"name": "digits", "source": "digits", "test_fraction": 0.3, "seed": 0}],
    "models": [
        {  # 180 points, the 90 with lr 1e20 diverge in their first epoch
            "type": "ae", "name": "ae_grid", "grid": {"k": list(range(2, 12)), "lr": [0.02, 1e20]}, "seeds": list(range(9)),
            "settings": {"epochs": 2, "batch_size": 256, "decoder_activation": "linear"},
        },
        {"type": "nmf", "name": "nmf_grid", "grid": {"k": list(range(2, 21))}, "settings": {"max_iter": 5, "encode_iter": 5}},
        {  # the one training that runs long enough to be killed, with resume states every 25 epochs
            "type": "ae", "name": "ae_long", "grid": {"k": [8]},
            "settings": {"epochs": 2000, "batch_size": 256, "lr": 0.01, "decoder_activation": "linear"},
        },
    ],  # fmt: skip
    "evaluation": {"seed": 0, "svm": {"n_C": 2, "cv_splits": 2, "cv_test_size": 0.2, "eval_splits": 2, "eval_test_size": 0.3}},
    "figures": {"per_point": False, "dpi": 30},
}
LONG_POINT = "ae_long/k~8/seed~0"
RUN_TIMEOUT_S = 3600  # about 10 min on two idle cores; a loaded machine takes several times that


def descendants(pid: int) -> set[int]:
    """The processes below `pid` (from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def holder_of(path: Path, among: set[int]) -> int | None:
    """The process among `among` that has `path` open (a job writing its log), if any."""
    for pid in among:
        try:
            if any(os.readlink(fd) == str(path) for fd in Path(f"/proc/{pid}/fd").iterdir()):
                return pid
        except OSError:
            continue
    return None


def test_grid_of_200_with_diverging_points_and_a_killed_job(tmp_path):
    """--keep-going: diverging points are rows with status diverged, a SIGKILLed training fails alone;
    one rerun trains only that point (resuming it) and the table has exactly one row per grid point."""
    write_config(tmp_path, GRID_200)
    points = build_grid(validate_config(copy.deepcopy(GRID_200)))
    assert len(points) == 200
    # 401 jobs, most of their time spent starting Python and importing torch/scikit-learn: the table is the
    # target (no figures), and one job per point is the minimum the workflow runs
    run_args = ["--cores", "2", "--keep-going", "results/metrics.csv", "--set-resources", "train_model:checkpoint_every=25"]  # options that take lists around the target
    cmd = [*SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--configfile", str(tmp_path / "config.yaml"), *run_args]
    state = tmp_path / "results/models/digits" / LONG_POINT / "model.pt.resume"
    log = tmp_path / "results/logs/train_model/digits" / f"{LONG_POINT}.log"
    output_path = tmp_path / "first_run.log"  # a file, not a pipe: nobody reads a pipe while the run goes on
    with open(output_path, "w") as output_file:
        run = subprocess.Popen(cmd, cwd=tmp_path, stdout=output_file, stderr=subprocess.STDOUT)
    killed = None
    try:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while killed is None and run.poll() is None and time.monotonic() < deadline:
            if state.exists():  # training, and past its first resume state
                killed = holder_of(log, descendants(run.pid))
                if killed:
                    os.kill(killed, signal.SIGKILL)
            time.sleep(0.1)
        run.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    output = output_path.read_text()
    assert killed, f"the long training was never caught running:\n{output[-3000:]}"
    assert run.returncode != 0 and "train_model" in output  # it failed, the others went on
    assert not (tmp_path / "results/metrics.csv").exists()  # no table with a row missing
    planned = {  # the figures were never asked for: the two varied grids' metric figures, the comparison, ...
        "train_model": 1, "evaluate_model": 1, "aggregate_metrics": 1, "check_claims": 1, "render_metrics_table": 1,
        "plot_metrics": 2, "plot_comparison": 1, "plot_penalties": 1, "all": 1,
    }  # fmt: skip
    assert planned_jobs(tmp_path) == planned  # only the killed point is left to do

    snakemake(tmp_path, "--rerun-incomplete", *run_args)
    table = pd.read_csv(tmp_path / "results/metrics.csv")
    key = ["model", "k", "lr", "seed"]
    assert len(table) == 200 and not table.duplicated(key).any()
    expected = {(p.model, p.hyperparams["k"], p.config.get("lr"), p.hyperparams["seed"]) for p in points}  # lr: a grid key or a setting, the table has both
    assert {(m, k, None if pd.isna(lr) else lr, s) for m, k, lr, s in table[key].itertuples(index=False)} == expected
    diverged = table["status"] == "diverged"
    assert (table.loc[diverged, "lr"] == 1e20).all() and diverged.sum() == 90
    assert table.loc[diverged, "recon_error"].isna().all() and table.loc[~diverged, "recon_error"].notna().all()
    for point in points:  # every row comes from the checkpoint now on disk: none is stale
        checkpoint = load_model(tmp_path / "results/models/digits" / point.model / point.params / "model.pt")
        row = table[(table["model"] == point.model) & (table["k"] == point.hyperparams["k"]) & (table["seed"] == point.hyperparams["seed"])]
        if "lr" in point.hyperparams:
            row = row[row["lr"] == point.hyperparams["lr"]]
        assert row["train_seconds"].item() == checkpoint.metadata["train_seconds"], point
    long_log = log.read_text()
    assert "resuming from" in long_log and "earlier unfinished attempt(s)" in long_log
    assert len(load_model(state.with_suffix("")).history) == 2000
