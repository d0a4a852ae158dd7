"""The IMU language model: IMU-Patchformer -> projector -> any Hugging Face causal LM (frozen + LoRA).

The prompt holds an IMU span ``<|imu_start|> <|imu|> x n <|imu_end|>``: each ``<|imu|>`` placeholder
is replaced by one projected encoder token (n = encoder patches of the clip, checked), the two
markers by learned embeddings. With ``channel_markers`` the span is
``<|imu_start|> <|imu_ax|> <|imu|> x P ... <|imu_gz|> <|imu|> x P <|imu_end|>``, one run per channel
(SensorLLM's per-channel markers). The markers are added to the tokenizer but the LLM's embedding
matrix is never resized: their ids are swapped out before the embedding lookup, so the frozen
LLM is saved nowhere and a checkpoint holds only what was trained.

Objectives: ``generate`` (next-token loss on the response tokens) and ``classify`` (heads on the
LLM's last hidden state of the prompt: hazard over ``labels.HAZARD_NAMES`` and activity over the
training set's activities; class-weighted cross-entropy). The unsafe score is 1 - p(hazard none).

A saved model folder (``save_pretrained``; layout in ``training.checkpoints``):
``imu_lm_config.json``, ``imu_modules.safetensors`` (encoder, projector, markers, heads),
``adapter/`` (peft LoRA, when used) and the tokenizer with the added tokens. ``from_pretrained``
takes such a folder or a Hub model repo id; the base LLM comes from ``base_model`` through
``AutoModelForCausalLM.from_pretrained``; no remote code, nothing unpickled.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..builders.dataset.schema import IMU_CHANNELS
from ..builders.labels import HAZARD_NAMES
from .encoder import EncoderConfig, IMUPatchformer

logger = logging.getLogger(__name__)

IMU_START, IMU_PATCH, IMU_END = "<|imu_start|>", "<|imu|>", "<|imu_end|>"
CHANNEL_MARKERS: tuple[str, ...] = tuple(f"<|imu_{c}|>" for c in IMU_CHANNELS)
MARKERS: tuple[str, ...] = (IMU_START, IMU_END) + CHANNEL_MARKERS
CONFIG_NAME = "imu_lm_config.json"
MODULES_NAME = "imu_modules.safetensors"
ADAPTER_DIR = "adapter"
OBJECTIVES = ("generate", "classify")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class IMULMConfig:
    """Everything needed to rebuild the model around its base LLM (saved as ``imu_lm_config.json``).

    base_model: folder or Hub id of the causal LM (``AutoModelForCausalLM``).
    objective: ``generate`` or ``classify``.
    lora: wrap the LLM with peft LoRA (False = alignment stage: LLM fully frozen).
    lora_target_modules: module names, or "all-linear".
    channel_markers: one marked token run per channel instead of one fused token per patch.
    projector_hidden: hidden width of the projector MLP (None: the LLM's hidden size).
    activities: activity vocabulary of the activity head (classify), from the training set.
    dtype: dtype the frozen LLM is loaded in.
    """

    base_model: str
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    objective: str = "generate"
    lora: bool = True
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_target_modules: list[str] | str = "all-linear"
    channel_markers: bool = False
    projector_hidden: int | None = None
    hazards: list[str] = field(default_factory=lambda: list(HAZARD_NAMES))
    activities: list[str] = field(default_factory=list)
    dtype: str = "float32"

    def __post_init__(self) -> None:
        if isinstance(self.encoder, dict):
            self.encoder = EncoderConfig.from_dict(self.encoder)
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {self.dtype!r}")
        if self.objective == "classify" and not self.activities:
            self.activities = ["unknown"]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "IMULMConfig":
        return cls(**d)


def imu_span(n_tokens: int, channel_markers: bool = False) -> str:
    """The prompt text of an IMU span with ``n_tokens`` patches (per channel with markers)."""
    if channel_markers:
        return IMU_START + "".join(m + IMU_PATCH * n_tokens for m in CHANNEL_MARKERS) + IMU_END
    return IMU_START + IMU_PATCH * n_tokens + IMU_END


def prepare_tokenizer(tokenizer) -> None:
    """Add the IMU tokens (special, never split) and a pad token (= eos) where there is none."""
    missing = [t for t in (IMU_PATCH,) + MARKERS if t not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_tokens(missing, special_tokens=True)
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ValueError("the tokenizer has neither a pad nor an eos token; give it one")
        tokenizer.pad_token = tokenizer.eos_token


def load_base_model(name: str, dtype: str = "float32"):
    """``AutoModelForCausalLM.from_pretrained(name)`` (never remote code), with a clear error."""
    from transformers import AutoModelForCausalLM

    try:
        return AutoModelForCausalLM.from_pretrained(name, dtype=DTYPES[dtype], trust_remote_code=False)
    except (OSError, ValueError, KeyError) as e:
        raise ValueError(f"cannot load base model {name!r} as a causal LM: {str(e).splitlines()[0]} "
                         "(give a local folder or a Hub model id; offline, it must be in the cache)") from None


class IMULanguageModel(nn.Module):
    """Encoder + projector + causal LM (see the module docstring).

    Build a new one with ``IMULanguageModel.create(config, tokenizer)``, a saved one with
    ``from_pretrained``.
    """

    def __init__(self, config: IMULMConfig, llm: nn.Module, tokenizer):
        super().__init__()
        self.config = config
        self.tokenizer = tokenizer
        prepare_tokenizer(tokenizer)
        self.patch_id = tokenizer.convert_tokens_to_ids(IMU_PATCH)
        self.marker_ids = [tokenizer.convert_tokens_to_ids(m) for m in MARKERS]
        hidden = llm.get_input_embeddings().embedding_dim
        d = config.encoder.d_model
        width = config.projector_hidden or hidden
        self.encoder = IMUPatchformer(config.encoder)
        self.projector = nn.Sequential(nn.Linear(d, width), nn.GELU(), nn.Linear(width, hidden))
        self.markers = nn.Embedding(len(MARKERS), hidden)
        nn.init.normal_(self.markers.weight, std=0.02)
        if config.objective == "classify":
            self.hazard_head = nn.Linear(hidden, len(config.hazards))
            self.activity_head = nn.Linear(hidden, len(config.activities))
        if not config.lora:  # alignment stage; with LoRA, peft has frozen all but the adapters
            llm.requires_grad_(False)
        self.llm = llm

    # --- building ---------------------------------------------------------------------------
    @classmethod
    def create(cls, config: IMULMConfig, tokenizer=None, llm: nn.Module | None = None) -> "IMULanguageModel":
        """A fresh model: base LLM from ``config.base_model`` (unless given), LoRA if configured."""
        from transformers import AutoTokenizer

        llm = llm if llm is not None else load_base_model(config.base_model, config.dtype)
        if tokenizer is None:
            tokenizer = AutoTokenizer.from_pretrained(config.base_model)
        if config.lora:
            from peft import LoraConfig, get_peft_model

            target = config.lora_target_modules
            llm = get_peft_model(llm, LoraConfig(
                r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                target_modules=target if isinstance(target, str) else list(target), task_type="CAUSAL_LM"))
        return cls(config, llm, tokenizer)

    def imu_state_dict(self) -> dict[str, torch.Tensor]:
        """Trained tensors outside the LLM: encoder, projector, markers, heads."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("llm.")}

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write config, IMU modules, LoRA adapter and tokenizer into ``folder`` (created)."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / CONFIG_NAME).write_text(json.dumps(self.config.to_dict(), indent=2) + "\n")
        save_file({k: v.detach().contiguous().cpu() for k, v in self.imu_state_dict().items()},
                  folder / MODULES_NAME, metadata={"format": "pt"})
        if self.config.lora:
            self.llm.save_pretrained(folder / ADAPTER_DIR)
        self.tokenizer.save_pretrained(folder)
        return folder

    @classmethod
    def from_pretrained(cls, folder_or_repo: str | Path, revision: str | None = None,
                        trainable: bool = False, base_model: str | None = None) -> "IMULanguageModel":
        """Rebuild a saved model from a folder or a Hub model repo id (final model at its root).

        base_model: override the base LLM's location (e.g. a local copy of the same weights).
        trainable: keep LoRA weights trainable (resuming); else the model is put in eval mode.
        """
        from safetensors.torch import load_file
        from transformers import AutoTokenizer

        folder = Path(folder_or_repo)
        if not folder.is_dir():
            name = str(folder_or_repo)
            if not re.fullmatch(r"[\w.-]+/[\w.-]+", name) or name.startswith(".") or folder.exists():
                raise FileNotFoundError(f"{name!r} is neither a model folder nor a Hub repo id 'org/name'")
            from huggingface_hub import snapshot_download

            try:
                folder = Path(snapshot_download(name, revision=revision, ignore_patterns=["checkpoints/*"]))
            except Exception as e:  # offline, unknown repo, HTTP: one clear line
                raise ValueError(f"cannot download model {name!r} from the Hub: {str(e).splitlines()[0]}") from None
        if not (folder / CONFIG_NAME).is_file():
            raise FileNotFoundError(f"{folder} holds no {CONFIG_NAME}: not an imu2safety model")
        config = IMULMConfig.from_dict(json.loads((folder / CONFIG_NAME).read_text()))
        if base_model:
            config.base_model = base_model
        llm = load_base_model(config.base_model, config.dtype)
        if config.lora:
            from peft import PeftModel

            llm = PeftModel.from_pretrained(llm, folder / ADAPTER_DIR, is_trainable=trainable)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = cls(config, llm, tokenizer)
        state = load_file(folder / MODULES_NAME)
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith("llm.")]
        if missing or unexpected:
            raise ValueError(f"{folder / MODULES_NAME} does not fit the config: missing {missing}, "
                             f"unexpected {unexpected}")
        if not trainable:
            model.eval()
        return model

    # --- forward ----------------------------------------------------------------------------
    def num_imu_tokens(self, n_samples: int) -> int:
        """Placeholder tokens of a clip of ``n_samples`` at the encoder's input rate."""
        n = self.encoder.num_patches(n_samples)
        return n * len(CHANNEL_MARKERS) if self.config.channel_markers else n

    def embed(self, input_ids: torch.Tensor, imu: torch.Tensor, imu_mask: torch.Tensor) -> torch.Tensor:
        """Token embeddings (B, L, H) with the IMU span filled in.

        Raises ValueError when a row's ``<|imu|>`` count differs from its encoder tokens.
        """
        tokens, patch_mask = self.encoder(imu, imu_mask, channel_tokens=self.config.channel_markers)
        if self.config.channel_markers:  # (B, 6, P, D): channel-major runs, as in the span
            patch_mask = patch_mask[:, None].expand(-1, tokens.shape[1], -1)
        valid = self.projector(tokens[patch_mask])  # (N, H), row-major over (batch, [channel,] patch)
        is_patch = input_ids == self.patch_id
        have = is_patch.sum(1)
        want = patch_mask.reshape(len(input_ids), -1).sum(1)
        if not torch.equal(have, want):
            raise ValueError(f"IMU placeholder tokens per row {have.tolist()} != encoder tokens "
                             f"{want.tolist()}: build prompts with imu_span(model.num_imu_tokens(n))")
        special = is_patch.clone()
        for tid in self.marker_ids:
            special |= input_ids == tid
        embedding = self.llm.get_input_embeddings()
        x = embedding(input_ids.masked_fill(special, 0))
        for k, tid in enumerate(self.marker_ids):
            x = torch.where((input_ids == tid)[..., None], self.markers.weight[k].to(x.dtype), x)
        return x.masked_scatter(is_patch[..., None], valid.to(x.dtype))

    def forward(self, input_ids, attention_mask, imu, imu_mask, labels=None, hazard=None, activity=None,
                hazard_weight=None, activity_weight=None, **_) -> dict[str, torch.Tensor]:
        """Batch from ``training.collate`` -> dict with ``loss`` (when targets are given) and
        ``logits`` (B, L, V) (generate) or ``hazard_logits`` (B, C) and ``activity_logits`` (classify)."""
        x = self.embed(input_ids, imu, imu_mask)
        if self.config.objective == "classify":
            out = self.llm(inputs_embeds=x, attention_mask=attention_mask, output_hidden_states=True,
                           logits_to_keep=1)
            last = attention_mask.sum(1) - 1  # right padding: the last real token of each row
            h = out.hidden_states[-1][torch.arange(len(x), device=x.device), last].float()
            res = {"hazard_logits": self.hazard_head(h), "activity_logits": self.activity_head(h)}
            if hazard is not None:
                ce = nn.functional.cross_entropy
                res["loss"] = ce(res["hazard_logits"], hazard, weight=hazard_weight) + \
                    ce(res["activity_logits"], activity, weight=activity_weight)
            return res
        logits = self.llm(inputs_embeds=x, attention_mask=attention_mask).logits
        res = {"logits": logits}
        if labels is not None:
            res["loss"] = nn.functional.cross_entropy(
                logits[:, :-1].flatten(0, 1).float(), labels[:, 1:].flatten(), ignore_index=-100)
        return res

    @torch.no_grad()
    def generate(self, input_ids, attention_mask, imu, imu_mask, max_new_tokens: int = 48, **kwargs):
        """Greedy answers (B, new tokens) for left-padded prompts (``collate(..., padding_side='left')``)."""
        x = self.embed(input_ids, imu, imu_mask)
        tok = self.tokenizer
        return self.llm.generate(inputs_embeds=x, attention_mask=attention_mask, max_new_tokens=max_new_tokens,
                                 do_sample=False, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                                 **kwargs)
