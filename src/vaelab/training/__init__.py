"""Training: the loop, its configuration, checkpoints and the run directory."""

from vaelab.training.config import TrainConfig
from vaelab.training.loop import train
from vaelab.training.run import Run, load

__all__ = ["TrainConfig", "train", "Run", "load"]
