"""Model configuration: a dataclass saved as JSON beside the weights, enough to rebuild the network.

Torch-free on purpose: ``vaelab train``'s options are generated from these fields' metadata (help, choices)
without importing torch, so ``vaelab --help`` stays fast.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from vaelab.errors import ConfigError

KINDS = ("vae", "ae")
ARCHITECTURES = ("mlp", "conv")
PRIORS = ("standard", "vamp", "mog")
POSTERIORS = ("gaussian", "iaf", "planar")
CONDITIONS = ("none", "label")
LOGVAR_BOUNDS = (-6.0, 2.0)  # hardtanh clamp of log-variances in gated models (Tomczak & Welling 2018)
ACTIVATIONS = ("tanh", "relu")
LIKELIHOODS = ("bernoulli", "gaussian", "continuous-bernoulli")
GAUSSIAN_VARIANCES = ("pixel", "network")
GAUSSIAN_MEANS = ("sigmoid", "identity")
INITS = ("pytorch", "he")

# config.json keys renamed since format 1 (vaelab 0.1): old name -> field name
RENAMED = {"model": "kind"}


def option(default: Any, help: str, *, choices: tuple[str, ...] | None = None, flag: str | None = None,
           cli: bool = True) -> Any:
    """A dataclass field whose metadata (help text, choices, option name) generates its command-line option;
    ``cli=False`` keeps a field out of ``vaelab train``'s options."""
    return field(default=default, metadata={"help": help, "choices": choices, "flag": flag, "cli": cli})


@dataclass
class ModelConfig:
    """What network to build: the model kind, architecture, latent size and the decoder's likelihood.

    ``image_shape`` and ``likelihood`` may be left unset (None) in a training config: ``resolved`` fills
    them in from the data (Bernoulli for binary pixels, Gaussian for grayscale). The defaults are the
    measured recipe of docs/benchmarks.md (MLP 200-200 tanh, latent 50).
    """

    image_shape: tuple[int, int, int] | None = option(None, "(C, H, W) of one example; set from the data", cli=False)
    kind: str = option("vae", "vae, or ae: the deterministic autoencoder baseline", choices=KINDS, flag="--model")
    arch: str = option("mlp", "encoder/decoder networks", choices=ARCHITECTURES)
    latent_dim: int = option(50, "size of the latent code z")
    hidden: tuple[int, ...] = option((200, 200), "hidden layer sizes, e.g. 512,512")
    activation: str = option("tanh", "activation between hidden layers", choices=ACTIVATIONS)
    likelihood: str | None = option(None, "p(x|z); default: bernoulli for binary data, gaussian for grayscale",
                                    choices=LIKELIHOODS)
    gaussian_variance: str = option("pixel", "Gaussian likelihood: pixel (learned per pixel) or network",
                                    choices=GAUSSIAN_VARIANCES)
    min_log_variance: float = option(-7.0, "soft floor on a Gaussian decoder's log sigma^2", cli=False)
    conv_channels: tuple[int, ...] = option((32, 64), "channels of the conv layers, e.g. 32,64")
    gated: bool = option(False, "gated dense layers in the MLPs (Tomczak & Welling's GatedDense), with the "
                                "log-variances clamped to [-6, 2]")
    prior: str = option("standard", "p(z): standard N(0, I), vamp (VampPrior, Tomczak & Welling 2018) or mog "
                                     "(a learned mixture of Gaussians)", choices=PRIORS)
    pseudo_inputs: int = option(500, "K, the VampPrior's pseudo-inputs")
    components: int = option(10, "K, the components of --prior mog")
    posterior: str = option("gaussian", "q(z|x): gaussian, iaf (inverse autoregressive flow, Kingma et al. 2016) "
                                        "or planar (planar flow, Rezende & Mohamed 2015)", choices=POSTERIORS)
    flow_steps: int = option(2, "T, the steps of an iaf or planar posterior")
    flow_hidden: int = option(320, "hidden units of each IAF step's MADE network")
    stochastic_layers: int = option(1, "1, or 2: p(z2) p(z1|z2) p(x|z1, z2) with q(z2|x) q(z1|x, z2) "
                                       "(Tomczak & Welling's HVAE); --latent-dim is z1's size")
    top_latent_dim: int | None = option(None, "size of z2 with --stochastic-layers 2 (default: --latent-dim)")
    condition: str = option("none", "label: a conditional VAE p(x|z, y) q(z|x, y) on the data set's class labels",
                            choices=CONDITIONS)
    n_classes: int | None = option(None, "classes of a conditional model; set from the data", cli=False)
    init: str | None = option(None, "weight initialisation of the networks: pytorch (torch's default) or he "
                                    "(Kaiming normal, as Tomczak & Welling); default: he with --prior vamp, "
                                    "pytorch otherwise (docs/models.md)", choices=INITS)
    gaussian_mean: str = option("sigmoid", "a Gaussian decoder's mean: sigmoid (pixels in [0, 1]) or identity "
                                           "(a standardised table); set from the data", choices=GAUSSIAN_MEANS,
                                cli=False)

    def __post_init__(self) -> None:
        if self.image_shape is not None:
            self.image_shape = tuple(int(v) for v in self.image_shape)  # type: ignore[assignment]
        self.hidden = tuple(int(v) for v in self.hidden)
        self.conv_channels = tuple(int(v) for v in self.conv_channels)
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError (one line) for any value vaelab cannot build."""
        _choice("model", self.kind, KINDS)
        _choice("arch", self.arch, ARCHITECTURES)
        _choice("activation", self.activation, ACTIVATIONS)
        if self.likelihood is not None:
            _choice("likelihood", self.likelihood, LIKELIHOODS)
        _choice("gaussian_variance", self.gaussian_variance, GAUSSIAN_VARIANCES)
        _choice("gaussian_mean", self.gaussian_mean, GAUSSIAN_MEANS)
        if self.init is not None:
            _choice("init", self.init, INITS)
        if self.image_shape is not None and (len(self.image_shape) != 3 or min(self.image_shape) < 1):
            raise ConfigError(f"image_shape must be (C, H, W) with positive sizes, got {self.image_shape}")
        if self.latent_dim < 1:
            raise ConfigError(f"latent_dim must be >= 1, got {self.latent_dim}")
        if not self.hidden or min(self.hidden) < 1:
            raise ConfigError(f"hidden must list positive layer sizes (e.g. 512,512), got {self.hidden}")
        if self.arch == "conv" and (not self.conv_channels or min(self.conv_channels) < 1):
            raise ConfigError(f"conv_channels must list positive channel counts, got {self.conv_channels}")
        _choice("prior", self.prior, PRIORS)
        _choice("posterior", self.posterior, POSTERIORS)
        _choice("condition", self.condition, CONDITIONS)
        for name in ("pseudo_inputs", "components", "flow_steps", "flow_hidden"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.stochastic_layers not in (1, 2):
            raise ConfigError(f"stochastic_layers must be 1 or 2, got {self.stochastic_layers}")
        if self.top_latent_dim is not None and self.top_latent_dim < 1:
            raise ConfigError(f"top_latent_dim must be >= 1, got {self.top_latent_dim}")
        if self.kind == "ae" and (self.prior != "standard" or self.posterior != "gaussian"
                                  or self.stochastic_layers != 1):
            raise ConfigError("the autoencoder (--model ae) has no prior or posterior: --prior, --posterior and "
                              "--stochastic-layers apply to --model vae")
        if self.posterior != "gaussian" and self.stochastic_layers != 1:
            raise ConfigError(f"--posterior {self.posterior} is a single-layer posterior: use it with "
                              "--stochastic-layers 1")
        if self.prior == "vamp" and self.posterior != "gaussian":
            raise ConfigError(f"--prior vamp is a mixture of the Gaussian posteriors q(z|u_k); with --posterior "
                              f"{self.posterior} it would be a mixture of flows: use --posterior gaussian")
        if self.condition != "none" and self.prior == "vamp":
            raise ConfigError("--prior vamp with --condition label would need labelled pseudo-inputs: use --prior "
                              "standard or mog for a conditional model")

    def resolved(self, image_shape: tuple[int, int, int], data_kind: str, n_classes: int | None = None,
                 data_name: str = "this data set") -> "ModelConfig":
        """A copy for data of ``image_shape``, value kind ``data_kind`` and ``n_classes`` labelled classes;
        refuses Bernoulli on grayscale and a conditional model on unlabelled data."""
        likelihood = self.likelihood or default_likelihood(data_kind)
        check_likelihood(likelihood, data_kind)
        if self.condition == "label" and not n_classes:
            raise ConfigError(f"--condition label needs class labels, and {data_name} has none (labelled sets: "
                              "digits, mnist, fashion-mnist, image folders with class subfolders, arrays with --labels)")
        real = data_kind == "real"  # a standardised table: values on the whole real line
        if real and self.arch != "mlp":
            raise ConfigError(f"{data_name} is a table (a vector of {image_shape[-1]} columns, not an image): "
                              "use --arch mlp")
        return replace(self, image_shape=tuple(image_shape), likelihood=likelihood,
                       n_classes=int(n_classes) if self.condition == "label" else None,
                       gaussian_mean="identity" if real else self.gaussian_mean, init=self.weight_init)

    @property
    def weight_init(self) -> str:
        """The initialisation to build with: the ``init`` field, or by default ``he`` for a VampPrior and torch's
        own otherwise. Under torch's default a tanh MLP encoder starts with means that barely depend on x
        (spread ~0.05 over a batch); a standard prior's KL then holds the variances near 1 and the decoder soon
        uses z, but a VampPrior's KL is indifferent to the latent scale, the variances shrink and the encoder
        stays collapsed (measured in docs/models.md). Kaiming-normal weights start the means spread ~0.5 apart."""
        if self.init is not None:
            return self.init
        return "he" if self.prior == "vamp" else "pytorch"

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """Latent sizes per stochastic layer, bottom first: (D,) or (D1, D2)."""
        if self.stochastic_layers == 1:
            return (self.latent_dim,)
        return (self.latent_dim, self.top_latent_dim or self.latent_dim)

    @property
    def logvar_bounds(self) -> tuple[float, float] | None:
        return LOGVAR_BOUNDS if self.gated else None

    @property
    def data_dim(self) -> int:
        """Number of values in one example, C * H * W."""
        if self.image_shape is None:
            raise ConfigError("the model's image_shape is not known yet (it is set from the data)")
        c, h, w = self.image_shape
        return c * h * w

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("image_shape", "hidden", "conv_channels"):
            if d[k] is not None:
                d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        """From ``to_dict``'s output, or a config.json written by an older vaelab (renamed keys migrate)."""
        d = {RENAMED.get(k, k): v for k, v in d.items()}
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown model config keys {sorted(unknown)}; expected some of {sorted(known)}")
        return cls(**d)


def check_likelihood(likelihood: str, data_kind: str) -> None:
    """Refuse a Bernoulli likelihood on non-binary data: its 'log-likelihood' would not be one."""
    if data_kind == "real" and likelihood != "gaussian":
        raise ConfigError(f"a {likelihood} likelihood needs values in [0, 1], but a table is standardised to any "
                          "real value: use --likelihood gaussian (the default for tables)")
    if likelihood == "bernoulli" and data_kind != "binary":
        raise ConfigError(
            "a bernoulli likelihood needs binary pixels (0 or 1) but this data set is continuous grayscale: "
            "use --likelihood gaussian or continuous-bernoulli, or binarize the data (--binarize threshold|dynamic)"
        )


def default_likelihood(data_kind: str) -> str:
    """Bernoulli for binary data, Gaussian (sigmoid mean, learned per-pixel variance) for grayscale."""
    return "bernoulli" if data_kind == "binary" else "gaussian"


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"unknown {name} {value!r}: expected one of {', '.join(allowed)}")


OBJECTIVES = ("elbo", "iwae")
ESTIMATORS = ("pathwise", "score-function", "stl", "dreg")
ELBO_ESTIMATORS = ("pathwise", "score-function", "stl")
IWAE_ESTIMATORS = ("pathwise", "dreg")


def check_objective(objective: str, estimator: str) -> None:
    """Refuse combinations vaelab does not estimate without bias."""
    if objective not in OBJECTIVES:
        raise ConfigError(f"unknown objective {objective!r}: expected one of {', '.join(OBJECTIVES)}")
    if estimator not in ESTIMATORS:
        raise ConfigError(f"unknown estimator {estimator!r}: expected one of {', '.join(ESTIMATORS)}")
    if objective == "iwae" and estimator not in IWAE_ESTIMATORS:
        raise ConfigError(f"--objective iwae uses the pathwise or the dreg estimator; {estimator} is implemented "
                          "for the ELBO only (STL applied to IWAE is biased for k > 1, Tucker et al. 2019)")
    if objective == "elbo" and estimator == "dreg":
        raise ConfigError("--estimator dreg is the IWAE objective's (Tucker et al. 2019): use it with --objective "
                          "iwae; for the ELBO (k = 1) it is --estimator stl")
