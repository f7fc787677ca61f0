"""The systems bench_speed.py times, one per subprocess: ``python speed_systems.py SYSTEM --epochs N``.

Each prints one JSON line {"system", "epoch_seconds": [...]} with the train-loop seconds of every epoch.
Systems: vaelab (fp32), vaelab-bf16, vaelab-compile, reference (the pytorch/examples VAE loop), pythae
(its VAE through TrainingPipeline), and floor (fp32/bf16 matmul GFLOP/s of the BENCH layer shape).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BENCH, DEFAULT_DATA  # noqa: E402

IN, H, D = 784, 512, 32


def bench_flops_per_epoch(n: int = 50_000) -> float:
    """FLOPs of one BENCH epoch: forward 2*MACs, backward twice that (no input gradient for layer 1)."""
    macs = IN * H + H * H + H * 2 * D + D * H + H * H + H * IN  # per example
    return n * (3 * 2 * macs - 2 * IN * H)


def load_train(data_dir: str) -> torch.Tensor:
    from vaelab.data import load_dataset

    return load_dataset("binarized-mnist", data_dir=data_dir).train.flatten(1)  # (50000, 784)


def run_vaelab(args, precision: str = "fp32", compile: bool = False) -> list[float]:
    import vaelab

    with tempfile.TemporaryDirectory() as tmp:
        cfg = vaelab.TrainConfig.from_dict(dict(**BENCH, data_dir=args.data_dir, epochs=args.epochs, device=args.device,
                                 precision=precision, compile=compile, out=str(Path(tmp) / "run")))
        run = vaelab.train(cfg, quiet=True)
    return [r["seconds"] for r in run.metrics]


class ReferenceVAE(nn.Module):
    """The pytorch/examples VAE, with the BENCH sizes (784-512-512, latent 32)."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(IN, H), nn.Linear(H, H)
        self.fc21, self.fc22 = nn.Linear(H, D), nn.Linear(H, D)
        self.fc3, self.fc4, self.fc5 = nn.Linear(D, H), nn.Linear(H, H), nn.Linear(H, IN)

    def encode(self, x):
        h = F.relu(self.fc2(F.relu(self.fc1(x))))
        return self.fc21(h), self.fc22(h)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        return mu + torch.randn_like(std) * std

    def decode(self, z):
        return torch.sigmoid(self.fc5(F.relu(self.fc4(F.relu(self.fc3(z))))))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, IN))
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar


def run_reference(args) -> list[float]:
    from torch.utils.data import DataLoader, TensorDataset

    device = torch.device("cuda" if args.device != "cpu" and torch.cuda.is_available() else "cpu")
    loader = DataLoader(TensorDataset(load_train(args.data_dir)), batch_size=128, shuffle=True)
    model = ReferenceVAE().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    times = []
    for _ in range(args.epochs):
        model.train()
        t0 = time.perf_counter()
        for (data,) in loader:
            data = data.to(device)
            optimizer.zero_grad()
            recon, mu, logvar = model(data)
            bce = F.binary_cross_entropy(recon, data.view(-1, IN), reduction="sum")
            kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            (bce + kld).backward()
            optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return times


def run_pythae(args) -> list[float]:
    from pythae.models import VAE, VAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder
    from pythae.pipelines import TrainingPipeline
    from pythae.trainers import BaseTrainerConfig
    from pythae.trainers.training_callbacks import TrainingCallback

    class Encoder(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(IN, H), nn.ReLU(), nn.Linear(H, H), nn.ReLU())
            self.mu, self.logvar = nn.Linear(H, D), nn.Linear(H, D)

        def forward(self, x):
            h = self.net(x.reshape(-1, IN))
            return ModelOutput(embedding=self.mu(h), log_covariance=self.logvar(h))

    class Decoder(BaseDecoder):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(D, H), nn.ReLU(), nn.Linear(H, H), nn.ReLU(), nn.Linear(H, IN),
                                     nn.Sigmoid())

        def forward(self, z):
            return ModelOutput(reconstruction=self.net(z).reshape(-1, 1, 28, 28))

    class EpochTimer(TrainingCallback):
        def __init__(self):
            self.times, self.t0 = [], 0.0

        def on_epoch_begin(self, training_config, **kwargs):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, training_config, **kwargs):
            self.times.append(time.perf_counter() - self.t0)

    x = load_train(args.data_dir).reshape(-1, 1, 28, 28).numpy()
    model = VAE(VAEConfig(input_dim=(1, 28, 28), latent_dim=D, reconstruction_loss="bce"),
                encoder=Encoder(), decoder=Decoder())
    timer = EpochTimer()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = BaseTrainerConfig(output_dir=tmp, num_epochs=args.epochs, learning_rate=1e-3,
                                per_device_train_batch_size=128, per_device_eval_batch_size=128,
                                no_cuda=args.device == "cpu", steps_saving=None)
        TrainingPipeline(training_config=cfg, model=model)(train_data=x, callbacks=[timer])
    return timer.times


def matmul_gflops(dtype: torch.dtype, device: str, reps: int = 400) -> float:
    """GFLOP/s of (128 x 784) @ (784 x 512), the BENCH first layer, median of 5 timings."""
    a = torch.randn(128, IN, device=device).to(dtype)
    b = torch.randn(IN, H, device=device).to(dtype)
    out = torch.empty(128, H, device=device, dtype=dtype)
    rates = []
    for _ in range(5):
        torch.mm(a, b, out=out)
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(reps):
            torch.mm(a, b, out=out)
        if device == "cuda":
            torch.cuda.synchronize()
        rates.append(2 * 128 * IN * H * reps / (time.perf_counter() - t0) / 1e9)
    return sorted(rates)[2]


def run_floor(args) -> dict:
    device = "cuda" if args.device != "cpu" and torch.cuda.is_available() else "cpu"
    fp32 = matmul_gflops(torch.float32, device)
    bf16 = matmul_gflops(torch.bfloat16, device)
    flops = bench_flops_per_epoch()
    return {"gflops_fp32": fp32, "gflops_bf16": bf16, "epoch_gflop": flops / 1e9,
            "epoch_seconds": [flops / 1e9 / fp32], "epoch_seconds_bf16": flops / 1e9 / bf16}


SYSTEMS = {
    "vaelab": lambda a: run_vaelab(a),
    "vaelab-bf16": lambda a: run_vaelab(a, precision="bf16"),
    "vaelab-compile": lambda a: run_vaelab(a, compile=True),
    "reference": run_reference,
    "pythae": run_pythae,
    "floor": run_floor,
}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("system", choices=sorted(SYSTEMS))
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--data-dir", default=DEFAULT_DATA)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    result = SYSTEMS[args.system](args)
    if not isinstance(result, dict):
        result = {"epoch_seconds": result}
    print(json.dumps({"system": args.system, **result}))


if __name__ == "__main__":
    main()
