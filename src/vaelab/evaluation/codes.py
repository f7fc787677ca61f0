"""Latent codes out and back: each input's q(z|x) summarised as numbers in a file (``vaelab encode``), and
codes decoded back to images or table rows (``vaelab decode``).

For a Gaussian posterior the file holds its mean mu and log-variance log sigma^2 exactly (``model.encode(x)``'s
``mu`` and ``logvar``). A posterior without a closed-form mean (an IAF or planar flow, two stochastic layers)
gets a Monte-Carlo estimate from ``samples`` draws of q: E_q[z|x] and the log of the per-dimension sample
variance; ``Codes.posterior`` says which was written, and the .npz / CSV / Parquet files carry that text. An
autoencoder's code is a point: its mean is the code and it has no log-variance.

File formats (chosen by the suffix): ``.npy`` the means (N, D) float32, with the log-variances, samples and
labels in ``STEM.logvar.npy``, ``STEM.sample.npy`` and ``STEM.labels.npy`` beside it; ``.npz`` the arrays
``mean``, ``logvar``, ``sample``, ``labels``, ``names``, ``inputs``, ``posterior``; ``.csv`` / ``.parquet``
(pandas and pyarrow, the ``tables`` extra) one row per input: ``input``, ``name``, ``label``, ``mean_0..``,
``logvar_0..``, ``sample_0..``. Every file is written atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from vaelab.errors import ConfigError, DataError
from vaelab.utils.atomic import atomic_path

CODE_SUFFIXES = (".npy", ".npz", ".csv", ".parquet")
TABLES_EXTRA = "pip install 'vaelab[tables]'"


@dataclass
class Codes:
    """What ``encode_specs`` returns: one row per input."""

    inputs: list[str]  # the INPUT spec of each row
    names: list[str]  # each row's name (file name, or SPEC[i])
    mean: np.ndarray  # (N, D) E_q[z|x]
    logvar: np.ndarray | None  # (N, D) log Var_q[z|x] (None for a point code)
    sample: np.ndarray | None  # (N, D) one z ~ q(z|x) (with --sample)
    labels: np.ndarray | None  # (N,) int64 where every input has labels
    posterior: str  # what mean and logvar are: closed form or Monte Carlo

    def __len__(self) -> int:
        return self.mean.shape[0]


def require_pandas(what: str) -> Any:
    """pandas, or one line naming the optional extra."""
    try:
        import pandas
    except ImportError:
        raise ConfigError(f"{what} needs pandas (and pyarrow for Parquet): {TABLES_EXTRA}") from None
    return pandas


def _moments(q: Any, samples: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None, bool]:
    """(mean (B, D), log-variance (B, D) or None, closed form?) of one batch's q(z|x)."""
    try:
        mean = q.mean
        logvar = getattr(q, "logvar", None)
        if logvar is not None:
            return mean, (None if bool(torch.isinf(logvar).all()) else logvar), True
    except NotImplementedError:
        pass
    draws = q.rsample((samples,), generator=generator)  # (S, B, D)
    return draws.mean(0), draws.var(0).clamp_min(1e-30).log(), False


@torch.no_grad()
def encode_batches(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor | None = None, *, sample: bool = False,
                   samples: int = 64, seed: int = 0, batch_size: int = 100,
                   progress: Callable[[int], None] | None = None
                   ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, bool]:
    """(mean, logvar or None, sample or None, closed form?) of q(z|x) for inputs x (N, ...), each (N, D)."""
    dev = next(model.parameters()).device
    gen = torch.Generator(device=dev).manual_seed(seed)
    means, logvars, draws = [], [], []
    closed = True
    for start in range(0, x.shape[0], batch_size):
        xb = x[start:start + batch_size].to(dev)
        yb = None if y is None else y[start:start + batch_size].to(dev)
        q = model.encode(xb, yb)
        mean, logvar, exact = _moments(q, samples, gen)
        closed &= exact
        means.append(mean.float().cpu())
        if logvar is not None:
            logvars.append(logvar.float().cpu())
        if sample:
            draws.append(q.rsample((1,), generator=gen)[0].float().cpu())
        if progress is not None:
            progress(min(start + batch_size, x.shape[0]))
    cat = lambda parts: torch.cat(parts).numpy() if parts else None  # noqa: E731
    return cat(means), cat(logvars), cat(draws), closed


def posterior_text(model: torch.nn.Module, closed: bool, samples: int) -> str:
    if not model.is_stochastic:
        return "point code of an autoencoder (no variance)"
    if closed:
        return "Gaussian q(z|x): closed-form mean and log-variance"
    return f"Monte-Carlo E_q[z|x] and log Var_q[z|x] from {samples} draws (q has no closed form)"


def encode_specs(run: Any, specs: Sequence[str], *, sample: bool = False, samples: int = 64, seed: int = 0,
                 batch_size: int = 100, resize: bool = False, binarize: str | None = None,
                 data_dir: str | Path | None = None,
                 progress: Callable[[str, int, int], None] | None = None) -> Codes:
    """The codes of every INPUT spec (the same specs as ``vaelab score``) under a run's model."""
    from vaelab.data.inputs import fit_inputs
    from vaelab.evaluation.anomaly import run_inputs_loader

    load = run_inputs_loader(run, data_dir)
    prepared = []
    for spec in specs:  # load and check every input before encoding any
        inputs = load(spec)
        x = fit_inputs(inputs, run.model_config.image_shape, run.model_config.likelihood, resize=resize,
                       binarize=binarize, table=run.model_config.gaussian_mean == "identity")
        if run.model.is_conditional and inputs.labels is None:
            raise DataError(f"{spec}: this conditional model needs each input's label (expected NAME:SPLIT of a "
                            "labelled data set)")
        prepared.append((spec, inputs, x))
    parts, closed_all = [], True
    for spec, inputs, x in prepared:
        cb = (lambda done, spec=spec, total=x.shape[0]: progress(spec, done, total)) if progress else None
        y = inputs.labels if run.model.is_conditional else None
        mean, logvar, draw, closed = encode_batches(run.model, x, y, sample=sample, samples=samples, seed=seed,
                                                    batch_size=batch_size, progress=cb)
        closed_all &= closed
        parts.append((inputs, mean, logvar, draw))
    labelled = all(p[0].labels is not None for p in parts)
    join = lambda i: None if parts[0][i] is None else np.concatenate([p[i] for p in parts])  # noqa: E731
    return Codes(inputs=[p[0].spec for p in parts for _ in range(len(p[0]))],
                 names=[n for p in parts for n in p[0].names], mean=join(1), logvar=join(2), sample=join(3),
                 labels=np.concatenate([p[0].labels.numpy() for p in parts]) if labelled else None,
                 posterior=posterior_text(run.model, closed_all, samples))


# ------------------------------------------------------------------------------------- files
def _columns(codes: Codes) -> dict[str, Any]:
    cols: dict[str, Any] = {"input": codes.inputs, "name": codes.names}
    if codes.labels is not None:
        cols["label"] = codes.labels
    for key in ("mean", "logvar", "sample"):
        arr = getattr(codes, key)
        if arr is not None:
            cols.update({f"{key}_{j}": arr[:, j] for j in range(arr.shape[1])})
    return cols


def _save_npy(path: Path, arr: np.ndarray) -> Path:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, arr)
    return path


def check_codes_path(path: str | Path) -> None:
    """Refuse an output suffix ``write_codes`` cannot write (before any encoding), and a table without pandas."""
    suffix = Path(path).suffix.lower()
    if suffix not in CODE_SUFFIXES:
        raise ConfigError(f"{path}: unsupported codes file {suffix or '(no suffix)'!r} (expected one of "
                          f"{', '.join(CODE_SUFFIXES)})")
    if suffix in (".csv", ".parquet"):
        require_pandas(f"writing {suffix} codes")


def write_codes(path: str | Path, codes: Codes) -> list[Path]:
    """Write ``codes`` in the format of ``path``'s suffix (module docstring); returns the files written."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        written = [_save_npy(path, codes.mean.astype(np.float32))]
        for key in ("logvar", "sample", "labels"):
            arr = getattr(codes, key)
            if arr is not None:
                written.append(_save_npy(path.with_name(f"{path.stem}.{key}.npy"), arr))
        return written
    if suffix == ".npz":
        arrays = {k: v for k, v in (("mean", codes.mean), ("logvar", codes.logvar), ("sample", codes.sample),
                                    ("labels", codes.labels)) if v is not None}
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays, names=np.array(codes.names), inputs=np.array(codes.inputs),
                     posterior=np.array(codes.posterior))
        return [path]
    if suffix in (".csv", ".parquet"):
        pd = require_pandas(f"writing {suffix} codes")
        frame = pd.DataFrame(_columns(codes))
        with atomic_path(path) as tmp:
            if suffix == ".csv":
                with open(tmp, "w") as fh:
                    fh.write(f"# {codes.posterior}\n")
                    frame.to_csv(fh, index=False)
            else:
                frame.attrs["posterior"] = codes.posterior
                frame.to_parquet(tmp, index=False)
        return [path]
    raise ConfigError(f"{path}: unsupported codes file {suffix or '(no suffix)'!r} (expected one of "
                      f"{', '.join(CODE_SUFFIXES)})")


def read_codes(path: str | Path, key: str = "mean") -> tuple[np.ndarray, np.ndarray | None]:
    """(codes (N, D) float32, labels (N,) or None) from a file ``write_codes`` wrote, or any (N, D) .npy array or
    table with ``{key}_0..`` columns; ``key`` picks mean or sample."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: not found (expected a codes file written by vaelab encode)")
    suffix = path.suffix.lower()
    labels = None
    if suffix == ".npy":
        z = np.load(path, allow_pickle=False)
        side = path.with_name(f"{path.stem}.labels.npy")
        labels = np.load(side) if side.is_file() else None
    elif suffix == ".npz":
        with np.load(path, allow_pickle=False) as f:
            if key not in f.files:
                raise DataError(f"{path}: no array {key!r} (arrays: {', '.join(f.files)})")
            z, labels = f[key], (f["labels"] if "labels" in f.files else None)
    elif suffix in (".csv", ".parquet"):
        pd = require_pandas(f"reading {suffix} codes")
        frame = pd.read_csv(path, comment="#") if suffix == ".csv" else pd.read_parquet(path)
        cols = [c for c in frame.columns if str(c).startswith(f"{key}_") and str(c)[len(key) + 1:].isdigit()]
        if not cols:
            raise DataError(f"{path}: no {key}_0, {key}_1, ... columns (expected a table written by vaelab encode)")
        z = frame[sorted(cols, key=lambda c: int(str(c)[len(key) + 1:]))].to_numpy()
        labels = frame["label"].to_numpy() if "label" in frame.columns else None
    else:
        raise DataError(f"{path}: unsupported codes file {suffix or '(no suffix)'!r} (expected one of "
                        f"{', '.join(CODE_SUFFIXES)})")
    if z.ndim != 2 or not np.issubdtype(z.dtype, np.number):
        raise DataError(f"{path}: codes of shape {z.shape} and dtype {z.dtype} (expected a numeric (N, D) array)")
    if not np.isfinite(z).all():
        raise DataError(f"{path}: NaN or infinite codes (expected finite numbers)")
    return z.astype(np.float32), None if labels is None else labels.astype(np.int64)


@torch.no_grad()
def decode_codes(model: torch.nn.Module, z: np.ndarray, labels: np.ndarray | None = None, *,
                 batch_size: int = 100, progress: Callable[[int], None] | None = None) -> torch.Tensor:
    """The decoder mean E[x|z] (N, C, H, W) of codes z (N, D), batched."""
    if z.shape[1] != model.latent_dim:
        raise DataError(f"codes of {z.shape[1]} dimensions, but the model's latent space has {model.latent_dim}")
    if model.is_conditional and labels is None:
        raise DataError("this conditional model needs a label per code (a codes file with labels, or --label)")
    dev = next(model.parameters()).device
    out = []
    for start in range(0, z.shape[0], batch_size):
        zb = torch.from_numpy(z[start:start + batch_size]).to(dev)
        yb = None if labels is None or not model.is_conditional else torch.as_tensor(labels[start:start + batch_size])
        out.append(model.decode(zb, yb).float().cpu())
        if progress is not None:
            progress(min(start + batch_size, z.shape[0]))
    return torch.cat(out)


def save_decoded_images(images: torch.Tensor, out_dir: str | Path) -> list[Path]:
    """One PNG per image (``000000.png``, ...) and ``decoded.npy`` (N, C, H, W) in ``out_dir``."""
    import io

    from PIL import Image

    from vaelab.utils.atomic import write_bytes_atomic

    out = Path(out_dir)
    paths = [_save_npy(out / "decoded.npy", images.numpy())]
    arr = (images.clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)  # (N, C, H, W)
    width = max(6, len(str(len(arr))))
    for i, a in enumerate(arr):
        buf = io.BytesIO()
        Image.fromarray(a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)).save(buf, format="PNG")
        write_bytes_atomic(out / f"{i:0{width}d}.png", buf.getvalue())
        paths.append(out / f"{i:0{width}d}.png")
    return paths


def decode_run_codes(run: Any, codes_path: str | Path, out_dir: str | Path, *, key: str = "mean",
                     label: int | None = None, batch_size: int = 100, quiet: bool = False) -> list[Path]:
    """``vaelab decode``: read a codes file, decode it with the run's model and write PNGs + decoded.npy, or for a
    run on a table ``decoded.csv`` in the table's raw units; returns the files written."""
    from vaelab.utils.progress import ProgressBar

    z, labels = read_codes(codes_path, key)
    if label is not None:
        labels = np.full(z.shape[0], label, dtype=np.int64)
    with ProgressBar(z.shape[0], f"decoding {codes_path}", unit="code", quiet=quiet) as bar:
        x = decode_codes(run.model, z, labels, batch_size=batch_size, progress=bar.update)
    from vaelab.data.tables import table_scaling, write_table

    scaling = table_scaling(run.data_info)
    if scaling is not None:  # a run on a table: rows in the table's own units
        rows = scaling.unstandardise(x.reshape(x.shape[0], -1).numpy())
        return [write_table(Path(out_dir) / "decoded.csv", rows, scaling.columns)]
    return save_decoded_images(x, out_dir)
