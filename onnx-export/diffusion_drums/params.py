"""Hyperparameters. One dataclass, saved inside every checkpoint and copied into manifest.json."""
from dataclasses import dataclass, field, asdict

# Class order is part of the model contract (docs/model-contract.md): never reorder.
DRUM_CLASSES = ["kick", "snare", "rim", "clap", "tom", "hihat_closed", "hihat_open", "crash", "ride", "percussion"]
CLASSES = DRUM_CLASSES + ["general"]
NULL_CLASS_ID = len(CLASSES)  # 11: the "no class" token used for classifier-free guidance


@dataclass
class Params:
    # audio
    sample_rate_hz: int = 44100
    clip_samples: int = 22528            # 0.51 s; a multiple of length_multiple
    # model (patchified waveform U-Net, see model.py)
    patch: int = 64                      # samples folded into one time step of the first level
    channels: tuple = (96, 128, 256)     # widths of the three time resolutions L/64, L/128, L/256; the first
                                         # level is wider than the 64 samples it folds, so fine detail has room
    blocks: tuple = (1, 2, 2)            # residual blocks per level (encoder and decoder each)
    attention_heads: int = 4             # self-attention at the coarsest level (0 = none)
    emb_dim: int = 128
    band_filters: int = 8                # full-rate adaptive filter path (model.BandPath); 0 = none
    band_kernel: int = 33                # taps of each of its band filters
    resampling: str = "subpixel"         # patch in/out and level upsampling: "subpixel" (space<->depth + plain
                                         # convolutions, model.PatchIn/PatchOut) or "transpose" (strided and
                                         # transposed convolutions: models before 2026-12, slower to train on CPU)
    dropout: float = 0.0                 # residual blocks' dropout while training (model.ResBlock); inference never drops
    num_classes: int = len(CLASSES) + 1  # + null class
    descriptors: int = 0                 # 3: also conditioned on the hit's timbre descriptors (dataset.descriptors:
                                         # brightness, noisiness, decay), drawn at generation from descriptor_prior;
                                         # 0 = none (every model before 2026-12-04)
    descriptor_dropout: float = 0.2      # share of items trained without descriptors (besides every null-class item)
    descriptor_prior: dict = field(default_factory=dict)  # class name -> {"mean", "slope", "chol"}: the descriptors
                                         # of the class's training hits as mean + slope * velocity + chol @ N(0, I)
    # EDM (Karras et al. 2022)
    sigma_data: float = 0.15
    sigma_skip: float = 0.003            # skip-path scale: c_skip = s_skip^2/(sigma^2+s_skip^2), see model.py
    sigma_min: float = 0.002
    sigma_max: float = 10.0
    p_mean: float = -1.8                 # log-normal training noise distribution: 2.5 % of items below
    p_std: float = 1.6                   # sigma 0.007, where a drum's tail must be told from hiss
    loss_sigma_knee: float = 0.02        # below this sigma the loss weight rises toward EDM's 1/sigma^2 again
                                         # (train.loss_weight); = sigma_data gives the plain 1/c_out^2 weight
    loss_preemphasis: float = 0.0        # > 0: add this times the error's pre-emphasised (1 - 0.95/z) square
                                         # (train.edm_loss): weighs high-frequency error up, e.g. hiss left on kicks;
                                         # tried at 1 and 4, no better than 0 (README, What still fails)
    loss_band_excess: float = 0.0        # > 0: add this times train.band_excess, the log-energy a band-frame of D holds
                                         # above the clean clip's (noise the denoiser let through, e.g. kick hiss)
    loss_band_excess_shape: bool = False  # ... on each band's share of its frame (spectral shape), live frames only.
                                         # Both tried 2026-12-03, worse than plain MSE (README, What still fails)
    # training
    batch_size: int = 24
    learning_rate: float = 4e-4
    warmup_steps: int = 200
    anneal_minutes: float = 0.0          # > 0: cosine learning-rate decay to lr_floor over this much training time
    anneal_steps: int = 0                # > 0: the same decay over this many steps instead (overrides anneal_minutes):
                                         # a run on other hardware (a GPU) that replays a CPU run's step budget
    lr_floor: float = 0.1                # final learning rate / learning_rate when annealing
    max_steps: int = 100000
    ema_decay: float = 0.999
    cfg_dropout: float = 0.1             # share of items trained with the null class
    grad_clip: float = 1.0
    general_share: float = 0.15          # share of each batch drawn from the "general" class
    augment_pitch: float = 0.06          # +- resampling factor range
    augment_tilt: float = 0.0            # > 0: random spectral tilt, the high band (above ~1 kHz, one-pole split) scaled
                                         # by a factor in [1/(1+t), 1+t] (dataset.tilt); peak level kept
    augment_decay: float = 0.0           # > 0: half the drum items shortened by exp(-r t), r up to this many nepers/s
    crop_samples: int = 0                # > 0: for the first crop_minutes of training time, train on each clip's first
    crop_minutes: float = 0.0            # crop_samples only (onset kept at 0; a multiple of length_multiple). A half-length
                                         # step costs a third of a full one on 2 CPU cores (train.crop_for)
    seed: int = 1234

    @property
    def length_multiple(self) -> int:
        return self.patch * 2 ** (len(self.channels) - 1)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channels"] = list(self.channels)
        d["blocks"] = list(self.blocks)
        return d

    @staticmethod
    def from_dict(d: dict) -> "Params":
        d = dict(d)
        d["channels"] = tuple(d["channels"])
        d["blocks"] = tuple(d["blocks"])
        d.setdefault("band_filters", 0)  # checkpoints from before the band path have none
        d.setdefault("resampling", "transpose")  # ... and from before sub-pixel resampling used transposed convs
        known = Params.__dataclass_fields__.keys()
        return Params(**{k: v for k, v in d.items() if k in known})
