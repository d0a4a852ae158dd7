"""Model card and Hub push of trained models.

``write_model_card`` renders ``cards/model_card.md`` (``huggingface_hub.ModelCard.from_template``)
with the base model, training data, options and the best evaluation metrics. ``push_checkpoint``
uploads a checkpoint's model folder to ``checkpoints/<step>/`` of a model repo and tags the commit
``step-<step>``; ``push_final`` uploads the final folder (with its card) to the repo root and tags
it ``v<MODEL_FORMAT_VERSION>`` (moved if a previous push made it). Tokens come from ``HF_TOKEN``
or the saved login and are never logged.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from huggingface_hub import HfApi, ModelCard, ModelCardData
from huggingface_hub.errors import HfHubHTTPError

from .. import __version__
from ..builders.labels import HAZARD_NAMES
from .checkpoints import PRETRAINED_DIR, step_name

logger = logging.getLogger(__name__)

MODEL_FORMAT_VERSION = "1.0.0"
CARD_TEMPLATE = Path(__file__).resolve().parents[1] / "cards" / "model_card.md"


def render_model_card(cfg, state: dict, train_clips: int, repo_id: str | None = None) -> ModelCard:
    """The model card of a training run (``cfg``: ``TrainConfig``; ``state``: best metrics)."""
    from .encoder import EncoderConfig

    enc = EncoderConfig(**cfg.encoder)
    metrics = state.get("best_metrics")
    data = ModelCardData(
        base_model=cfg.model if not Path(cfg.model).exists() else None,
        library_name="peft" if cfg.stage == "lora" else None, license="apache-2.0",
        datasets=[cfg.dataset] if not Path(cfg.dataset).exists() else None,
        pipeline_tag="text-generation" if cfg.objective == "generate" else None,
        tags=["imu2safety", "imu", "wearable", "har", "safety", "lora"],
    )
    targets = cfg.lora_target_modules
    return ModelCard.from_template(
        data, template_path=str(CARD_TEMPLATE), model_name=repo_id or Path(cfg.output).name,
        repo_id=repo_id or cfg.output, base_model=cfg.model, lora=cfg.stage == "lora", lora_r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha, lora_targets=targets if isinstance(targets, str) else ", ".join(targets),
        hazards=", ".join(HAZARD_NAMES[1:]), imu2safety_version=__version__, patch_len=enc.patch_len,
        stride=enc.stride, sample_rate_hz=f"{enc.sample_rate_hz:g}", d_model=enc.d_model,
        objective=cfg.objective, dataset=cfg.dataset, dataset_config=cfg.dataset_config,
        train_split=cfg.train_split, eval_split=cfg.eval_split, train_clips=train_clips,
        steps=cfg.max_steps, batch_size=cfg.batch_size, grad_accum=cfg.grad_accum,
        learning_rate=cfg.learning_rate, seed=cfg.seed, mixed_precision=cfg.mixed_precision,
        max_duration_s=f"{cfg.max_duration_s:g}", metrics=metrics, best_step=state.get("best_step"),
    )


def write_model_card(folder: Path, cfg, state: dict, train_clips: int, repo_id: str | None = None) -> Path:
    """Write ``folder/README.md`` (see ``render_model_card``)."""
    path = Path(folder) / "README.md"
    render_model_card(cfg, state, train_clips, repo_id=repo_id or cfg.push_to_hub).save(path)
    return path


def _api(token: str | None, api: HfApi | None) -> tuple[HfApi, str | None]:
    token = token or os.environ.get("HF_TOKEN") or None
    return api or HfApi(token=token), token


def _tag(api: HfApi, repo_id: str, tag: str, oid: str, token: str | None) -> None:
    try:
        api.create_tag(repo_id, tag=tag, revision=oid, repo_type="model", token=token)
    except HfHubHTTPError as e:
        if e.response is None or e.response.status_code != 409:
            raise
        logger.warning("tag %s exists in %s; moving it to commit %s", tag, repo_id, oid)
        api.delete_tag(repo_id, tag=tag, repo_type="model", token=token)
        api.create_tag(repo_id, tag=tag, revision=oid, repo_type="model", token=token)


def push_checkpoint(checkpoint: Path, repo_id: str, step: int, token: str | None = None,
                    private: bool = False, api: HfApi | None = None) -> str:
    """Upload ``checkpoint/pretrained_model`` to ``checkpoints/<step>/`` and tag it ``step-<step>``.

    Returns the commit URL.
    """
    api, token = _api(token, api)
    api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True, token=token)
    commit = api.upload_folder(repo_id=repo_id, repo_type="model", folder_path=Path(checkpoint) / PRETRAINED_DIR,
                               path_in_repo=f"checkpoints/{step_name(step)}", token=token,
                               commit_message=f"imu2safety checkpoint at step {step}")
    _tag(api, repo_id, f"step-{step}", commit.oid, token)
    logger.info("pushed checkpoint %d to %s at %s", step, repo_id, commit.oid)
    return commit.commit_url


def push_final(folder: Path, repo_id: str, token: str | None = None, private: bool = False,
               api: HfApi | None = None) -> str:
    """Upload the final model folder (with README.md) to the repo root; tag ``v<format version>``."""
    api, token = _api(token, api)
    api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True, token=token)
    commit = api.upload_folder(repo_id=repo_id, repo_type="model", folder_path=folder, token=token,
                               commit_message=f"imu2safety model, format v{MODEL_FORMAT_VERSION}")
    _tag(api, repo_id, f"v{MODEL_FORMAT_VERSION}", commit.oid, token)
    logger.info("pushed final model to %s at %s", repo_id, commit.oid)
    return commit.commit_url
