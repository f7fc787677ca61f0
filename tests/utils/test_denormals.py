"""Subnormal values are zeroed in the tensors vaelab trains and loads (CPU arithmetic on them is slow)."""

from __future__ import annotations

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

import vaelab
from vaelab.training import loop
from vaelab.utils.denormals import training_tensors, zero_subnormals_

TINY = torch.finfo(torch.float32).tiny  # 1.18e-38: the smallest normal float32


def _subnormal(t: torch.Tensor) -> int:
    return int(((t != 0) & (t.abs() < torch.finfo(t.dtype).tiny)).sum())


def test_only_subnormal_values_become_zero():
    x = torch.tensor([1e-39, -3e-40, TINY, -TINY, 0.0, 1.0, 1e-20])
    d = torch.tensor([1e-310, 1e-300, 2.0], dtype=torch.float64)  # float64's own range
    n = torch.tensor([3, 0])  # integers are left alone
    zero_subnormals_([x, d, n])
    assert torch.equal(x, torch.tensor([0.0, 0.0, TINY, -TINY, 0.0, 1.0, 1e-20]))
    assert d.tolist() == [0.0, 1e-300, 2.0] and n.tolist() == [3, 0]


def test_training_tensors_are_the_parameters_the_optimizer_state_and_the_average():
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters())
    model(torch.ones(1, 3)).sum().backward()
    opt.step()

    class Average:
        average = [torch.zeros(2, 3)]

    ids = {id(t) for t in training_tensors(model, opt, Average())}
    want = [p.data for p in model.parameters()] + [v for s in opt.state.values() for v in s.values()]
    assert {id(t) for t in want} | {id(Average.average[0])} == ids


def _inject(path, key: str, rows: slice) -> None:
    """Write subnormal values into some entries of one tensor of a checkpoint (its metadata kept)."""
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    ck = load_file(str(path))
    ck[key][rows] = 1e-39
    save_file(ck, str(path), metadata=meta)


def test_training_sweeps_subnormal_weights_and_loading_zeroes_them(tmp_path, monkeypatch):
    """Weights from the 8x8 digits' always-black corner pixel get no gradient (no weight decay here), so a
    subnormal value put there stays subnormal unless the sweep removes it."""
    config = dict(dataset="digits", hidden=(16,), latent_dim=2, epochs=1, batch_size=64, device="cpu", seed=0,
                  warmup_epochs=0, ema_decay=0.9)
    for sweep, name in ((True, "swept"), (False, "kept")):
        run = vaelab.train(vaelab.TrainConfig.from_dict({**config, "out": str(tmp_path / name)}), quiet=True)
        assert float(vaelab.load_dataset("digits").train[:, 0, 0, 0].abs().max()) == 0  # the corner pixel
        key = next(k for k in load_file(str(run.run_dir / "last.safetensors")) if k.endswith("encoder.net.0.weight"))
        _inject(run.run_dir / "last.safetensors", key, (slice(None), 0))  # its column of the first layer
        monkeypatch.setattr(loop, "SWEEP_EVERY", 1 if sweep else 10 ** 9)
        vaelab.train(vaelab.TrainConfig(epochs=2), resume=run.run_dir, quiet=True)
        after = load_file(str(run.run_dir / "last.safetensors"))[key]
        assert _subnormal(after) == (0 if sweep else 16)  # 16 hidden units: the column, kept untouched
    kept = vaelab.load(tmp_path / "kept", which="last")
    assert all(_subnormal(p) == 0 for p in kept.model.parameters())  # loading zeroes them



def _flushed_after(tmp_path, as_program: bool, env: dict[str, str] | None = None) -> bool:
    """Whether subnormals are flushed to zero in a new process after it ran `vaelab train` (one epoch on the
    digits) through main(): as the program (no argv: main reads sys.argv) or as a library call (argv given)."""
    import os
    import subprocess
    import sys

    args = ["train", "--dataset", "digits", "--epochs", "1", "--device", "cpu", "--quiet", "--out",
            str(tmp_path / f"run-{as_program}-{bool(env)}")]
    call = f"sys.argv = ['vaelab', *{args!r}]; main()" if as_program else f"main({args!r})"
    code = (f"import sys, torch; torch.set_flush_denormal(False); from vaelab.cli.main import main; {call}; "
            "print((torch.tensor([1e-39]) * 1.0).item() == 0.0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, **(env or {})})
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.split()[-1] == "True"


def test_the_program_flushes_subnormals_and_library_calls_do_not(tmp_path):
    if not torch.set_flush_denormal(False):  # this CPU has no flush-to-zero mode: nothing to check
        pytest.skip("no flush-to-zero mode on this CPU")
    assert _flushed_after(tmp_path, as_program=True)
    assert not _flushed_after(tmp_path, as_program=False)  # main(argv) from other code: its arithmetic is its own
    assert not _flushed_after(tmp_path, as_program=True, env={"VAELAB_FLUSH_DENORMALS": "0"})
