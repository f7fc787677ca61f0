#!/usr/bin/env bash
# The example figures of docs/visualisation.md: trains short runs on binarized MNIST (latent 2/5/10/20), the
# 10,000 labelled MNIST test images (a .npz) and Frey Face, runs every figure and anomaly command on them and
# copies the results into docs/images/ (the runs stay in runs/docs/). Run from the repository root:
#   bash benchmarks/vis_examples.sh [DATA_DIR]        (default ../shared/data; about 10 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data}
export VAELAB_DATA_DIR=$DATA  # named data sets (frey-face, binarized-mnist) given as INPUTs are looked up here
R=runs/docs
IMG=docs/images
mkdir -p "$R" "$IMG"
# short runs: the model and optimiser these figures were made with (vaelab's defaults before the 60-minute
# quality recipe became the default); options given per run below override them
SHORT="--hidden 512,512 --activation relu --latent-dim 32 --batch-size 128 --lr-decay 1 --warmup-epochs 0 --ema-decay 0 --patience 0 --max-minutes 0"
# shellcheck disable=SC2086
train() { local out=$1; shift; [ -f "$out/results.json" ] || vaelab train $SHORT --out "$out" "$@" --quiet | tail -1; }

# --- training -------------------------------------------------------------------------------------------
for d in 2 5 10 20; do   # binarized MNIST, 50k training images, Bernoulli decoder, 10 epochs each
  train $R/bmnist-d$d --dataset binarized-mnist --data-dir "$DATA" --latent-dim $d --epochs 10
done
python benchmarks/mnist_t10k.py --data-dir "$DATA" --out $R/mnist_t10k.npz
train $R/mnist-t10k-d2 --dataset $R/mnist_t10k.npz --binarize dynamic --latent-dim 2 --epochs 40
train $R/mnist-t10k-d10 --dataset $R/mnist_t10k.npz --binarize dynamic --latent-dim 10 --epochs 40
train $R/frey-d2 --dataset frey-face --data-dir "$DATA" --latent-dim 2 --hidden 200,200 --activation tanh \
  --gaussian-variance network --epochs 300 --batch-size 100

# --- figures: every command on each kind of data ---------------------------------------------------------
figures() {  # RUN NAME [interpolation ends]
  local run=$1 name=$2 from=$3 to=$4
  vaelab sample "$run" -n 64 --out $IMG/${name}_samples.png
  vaelab reconstruct "$run" -n 16 --out $IMG/${name}_reconstructions.png
  vaelab interpolate "$run" --from "$from" --to "$to" --steps 10 --out $IMG/${name}_interpolation.png
  vaelab manifold "$run" --grid 15 --out $IMG/${name}_manifold.png
  vaelab latents "$run" --out $IMG/${name}_latents.png
  vaelab report "$run" --grid 15
  python benchmarks/screenshot.py "$run/report.html" $IMG/${name}_report.png
}
figures $R/bmnist-d20 bmnist 0 1
vaelab sample $R/bmnist-d20 -n 64 --sample --out $IMG/bmnist_samples_draws.png
vaelab interpolate $R/bmnist-d20 --from 0 --to 1 --steps 10 --slerp --out $IMG/bmnist_interpolation_slerp.png
vaelab manifold $R/bmnist-d2 --grid 20 --out $IMG/bmnist-d2_manifold.png
vaelab curves $R/bmnist-d2 $R/bmnist-d5 $R/bmnist-d10 $R/bmnist-d20 --out $IMG/bmnist_curves_latent_sizes.png
figures $R/mnist-t10k-d2 mnist-t10k 0 1
vaelab latents $R/mnist-t10k-d10 --out $IMG/mnist-t10k-d10_latents_pca.png
vaelab latents $R/mnist-t10k-d10 --tsne --limit 2000 --out $IMG/mnist-t10k-d10_latents_tsne.png
vaelab curves $R/mnist-t10k-d2 $R/mnist-t10k-d10 --out $IMG/mnist-t10k_curves.png
figures $R/frey-d2 frey 0 1
vaelab curves $R/frey-d2 --out $IMG/frey_curves.png

# --- anomaly scores ---------------------------------------------------------------------------------------
python - <<'EOF'
import numpy as np
rng = np.random.default_rng(0)
np.save("runs/docs/noise28x28.npy", (rng.random((100, 28, 28)) > 0.5).astype(np.float32))  # binary noise
np.save("runs/docs/noise28x20.npy", rng.random((100, 28, 20)).astype(np.float32))           # grayscale noise
EOF
vaelab score $R/bmnist-d20 binarized-mnist:test $R/noise28x28.npy -k 1000 --limit 200 --quiet \
  --out $R/bmnist-d20/scores.csv | tee $R/score_bmnist.txt
vaelab score $R/mnist-t10k-d10 $R/mnist_t10k.npz:test:9 $R/mnist_t10k.npz:test:1 $R/noise28x28.npy -k 1000 \
  --binarize threshold --quiet | tee $R/score_mnist.txt
vaelab score $R/frey-d2 frey-face:test $R/noise28x20.npy -k 1000 --quiet | tee $R/score_frey.txt
vaelab anomaly-eval $R/bmnist-d20 --normal binarized-mnist:test --anomalous frey-face:test --resize \
  --binarize threshold -k 1000 --limit 1000 --quiet --out $R/bmnist-d20/anomaly
cp $R/bmnist-d20/anomaly/roc.png $IMG/bmnist_anomaly_roc.png
vaelab anomaly-eval $R/mnist-t10k-d10 --normal $R/mnist_t10k.npz:test --anomalous frey-face:test --resize \
  --binarize threshold -k 1000 --quiet --out $R/mnist-t10k-d10/anomaly
cp $R/mnist-t10k-d10/anomaly/roc.png $IMG/mnist-t10k_anomaly_roc.png
vaelab anomaly-eval $R/frey-d2 --normal frey-face:test --anomalous $R/mnist_t10k.npz:test --resize -k 1000 \
  --limit 1000 --quiet --out $R/frey-d2/anomaly
cp $R/frey-d2/anomaly/roc.png $IMG/frey_anomaly_roc.png
echo "figures in $IMG"
