"""Run by torchrun in test_distributed.py: trains with vaelab.train and saves this rank's final weights."""

import json
import os
import sys
from pathlib import Path

from safetensors.torch import save_file

import vaelab

config = json.loads(sys.argv[1])
resume = sys.argv[2] if len(sys.argv) > 2 else None
run = vaelab.train(vaelab.TrainConfig.from_dict(dict(**config)) if resume is None else vaelab.TrainConfig.from_dict(dict(epochs=config["epochs"])),
                   resume=resume, quiet=True)
rank = int(os.environ.get("RANK", "0"))
out = Path(config["out"]).parent / f"rank{rank}.safetensors"
save_file({k: v.contiguous() for k, v in run.model.state_dict().items()}, str(out))
