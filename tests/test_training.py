"""The IMU language model and its trainer on a tiny Llama + in-process tokenizer, on the CPU, offline.

One small dataset is built from the shipped sample (11 clips per split) and one tiny base model is
written for the module; every run crops clips to a few seconds so a step takes milliseconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import numpy as np
import pytest
import torch
import yaml
from huggingface_hub import HfApi
from safetensors.torch import load_file

from imu2safety.builders.build import BuildOptions, build
from imu2safety.builders.demo import samples_dir
from imu2safety.builders.labels import HAZARD_NAMES
from imu2safety.cli import main
from imu2safety.training import checkpoints as ck
from imu2safety.training.data import LABEL_INSTRUCTION, PairDataset, clips_from_rows, label_response, parse_response
from imu2safety.training.encoder import EncoderConfig
from imu2safety.training.evaluate import evaluate, hazard_metrics, make_collator
from imu2safety.training.hub import MODEL_FORMAT_VERSION, push_final, render_model_card
from imu2safety.training.model import IMULanguageModel, IMULMConfig, imu_span, load_base_model
from imu2safety.training.tiny import make_tiny_base
from imu2safety.training.train import TrainConfig, train

from fakehub import COMMIT_OID, ENDPOINT, REPO, TOKEN, hub  # noqa: F401 (hub is a fixture)

ENCODER = {"d_model": 16, "n_heads": 2, "channel_layers": 1, "temporal_layers": 1}


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return make_tiny_base(tmp_path_factory.mktemp("base") / "tiny-llama", hidden_size=32, num_layers=1,
                          num_heads=2, intermediate_size=64)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ds") / "ds"
    build(BuildOptions(source="npz", input_dir=samples_dir(), output_dir=out, rate_hz=50.0,
                       placement="left_wrist", device="bmi160", seed=0), progress=False)
    return out


def _cfg(base, dataset, out, **kw) -> TrainConfig:
    opts = dict(model=str(base), dataset=str(dataset), dataset_config="npz", output=str(out), max_steps=8,
                batch_size=4, learning_rate=2e-2, log_every=1, save_every=4, lora_r=4, encoder=ENCODER,
                max_duration_s=3.0, eval_split=None, max_new_tokens=20, pair_kinds=["classification"])
    return TrainConfig(**{**opts, **kw})


def _log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / ck.LOG_NAME).read_text().splitlines()]


def _rows(imus, hazards=("falling",), instructions=None) -> datasets.Dataset:
    n = len(imus)
    return datasets.Dataset.from_dict({
        "id": [f"c{i}" for i in range(n)], "imu": [np.asarray(x, np.float32) for x in imus],
        "sample_rate_hz": [50.0] * n, "hazard": list(hazards) * (n // len(hazards)),
        "activity": ["falling"] * n, "instructions": instructions or [[] for _ in range(n)]})


def test_short_run_lowers_the_loss_and_writes_the_layout(base, dataset, tmp_path, capsys):
    out = tmp_path / "run"
    summary = train(_cfg(base, dataset, out, max_steps=12, save_every=6, eval_split="validation"), progress=False)
    log = _log(out)
    losses = [r["loss"] for r in log if "loss" in r]
    with capsys.disabled():
        print(f"\n  generate/LoRA, 12 steps: loss {losses[0]:.3f} -> {losses[-1]:.3f} "
              f"(first 3 mean {np.mean(losses[:3]):.3f}, last 3 mean {np.mean(losses[-3:]):.3f})")
    assert np.mean(losses[-3:]) < np.mean(losses[:3]) - 1.0
    assert all({"step", "loss", "lr"} <= set(r) for r in log if "loss" in r)
    evals = [r for r in log if "eval_macro_f1" in r]
    assert [r["step"] for r in evals] == [6, 12]
    assert all(0 <= r["eval_macro_f1"] <= 1 and "eval_unsafe_recall" in r for r in evals)
    root = out / ck.CHECKPOINTS_DIR
    assert sorted(p.name for p in root.iterdir()) == ["000006", "000012", "best", "last"]
    assert (root / "last").resolve() == (root / "000012").resolve()
    assert (root / "best").is_symlink() and summary["best_step"] in (6, 12)
    pre = root / "000006" / ck.PRETRAINED_DIR
    assert {"imu_lm_config.json", "imu_modules.safetensors", "tokenizer.json", "chat_template.jinja"} <= \
        {p.name for p in pre.iterdir()}
    assert (pre / "adapter" / "adapter_model.safetensors").is_file()
    assert {p.name for p in (root / "000006" / ck.STATE_DIR).iterdir()} == \
        {"optimizer.pt", "scheduler.pt", "rng.pt", "state.json"}
    assert (out / "final" / "README.md").is_file()
    saved = IMULMConfig.from_dict(json.loads((pre / "imu_lm_config.json").read_text()))
    assert saved.encoder.norm_std != [1.0] * 6  # training-set statistics travel with the checkpoint


def _fill_random(model: IMULanguageModel) -> None:
    """Give every trainable tensor (LoRA B included, which starts at zero) random values."""
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)


@pytest.mark.parametrize("objective, lora, markers", [("generate", True, False), ("classify", False, True)])
def test_save_then_load_gives_identical_logits(base, dataset, tmp_path, objective, lora, markers):
    config = IMULMConfig(base_model=str(base), encoder=EncoderConfig(**ENCODER, norm_mean=[0.5] * 6),
                         objective=objective, lora=lora, lora_r=4, channel_markers=markers,
                         activities=["a", "b"])
    model = IMULanguageModel.create(config)
    _fill_random(model)
    model.eval()
    clips, _ = clips_from_rows(datasets.load_dataset(str(dataset), "npz", split="test"), 50.0, 2.0, pair_kinds=[])
    items = PairDataset(clips[:3], objective, config.activities)
    batch = make_collator(model, with_response=objective == "generate")([items[i] for i in range(3)])
    before = model(**batch)
    model.save_pretrained(tmp_path / "m")
    loaded = IMULanguageModel.from_pretrained(tmp_path / "m")
    after = loaded(**batch)
    for key in before:
        assert torch.equal(before[key], after[key]), key
    assert loaded.config == config


def test_resume_continues_exactly_as_an_uninterrupted_run(base, dataset, tmp_path):
    kw = dict(max_steps=6, save_every=3, grad_accum=2, batch_size=3, lora_dropout=0.1,
              encoder={**ENCODER, "dropout": 0.1})
    train(_cfg(base, dataset, tmp_path / "full", **kw), progress=False)
    train(_cfg(base, dataset, tmp_path / "part", **kw), progress=False, stop_after=3)
    assert not (tmp_path / "part" / "final").exists()
    train(_cfg(base, dataset, tmp_path / "part", resume_from=str(tmp_path / "part"), **kw), progress=False)
    full, part = tmp_path / "full" / "final", tmp_path / "part" / "final"
    for name in ("imu_modules.safetensors", "adapter/adapter_model.safetensors"):
        a, b = load_file(full / name), load_file(part / name)
        assert a.keys() == b.keys()
        for k in a:
            assert torch.equal(a[k], b[k]), (name, k)
    assert [r["loss"] for r in _log(tmp_path / "full")] == [r["loss"] for r in _log(tmp_path / "part")]


def test_shuffled_imu_control_scores_worse(base, dataset, tmp_path, capsys):
    """Classification runs on the real pairing and with each clip's IMU swapped for another's.

    The swap is a fresh derangement every epoch, so the shuffled run cannot learn the label from
    the signal and stays at the class prior; the real run can. Both are scored on the training
    clips (real pairing), where reading the signal is what separates them; the validation
    scores (other subjects; 11 clips, one per class for most) are printed too.
    """
    scores = {}
    for shuffle in (False, True):
        out = tmp_path / f"shuffle{int(shuffle)}"
        train(_cfg(base, dataset, out, objective="classify", max_steps=30, save_every=30, log_every=10,
                   learning_rate=1e-2, shuffle_imu=shuffle), progress=False)
        model = IMULanguageModel.from_pretrained(out / "final")
        for split in ("train", "validation"):
            clips, _ = clips_from_rows(datasets.load_dataset(str(dataset), "npz", split=split), 50.0, 3.0)
            scores[shuffle, split] = evaluate(model, clips)
    with capsys.disabled():
        for split in ("train", "validation"):
            real, shuf = scores[False, split], scores[True, split]
            print(f"\n  {split} macro-F1 / unsafe recall: real IMU {real['macro_f1']:.3f} / "
                  f"{real['unsafe_recall']:.3f}, shuffled IMU {shuf['macro_f1']:.3f} / {shuf['unsafe_recall']:.3f}")
    assert scores[False, "train"]["macro_f1"] > scores[True, "train"]["macro_f1"] + 0.15


def test_push_sends_checkpoint_and_final_with_card_and_tags(hub, base, dataset, tmp_path, monkeypatch):
    """``train(push_to_hub=REPO)`` end to end; only the HTTP transport is fake (``fakehub``)."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", ENDPOINT)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    out = tmp_path / "run"
    summary = train(_cfg(base, dataset, out, max_steps=2, save_every=2, push_to_hub=REPO), progress=False)
    assert summary["url"].endswith(COMMIT_OID)
    final = out / "final"
    final_files = sorted(p.relative_to(final).as_posix() for p in final.rglob("*") if p.is_file())
    ckpt_dir = out / ck.CHECKPOINTS_DIR / "000002" / ck.PRETRAINED_DIR
    ckpt_files = sorted("checkpoints/000002/" + p.relative_to(ckpt_dir).as_posix()
                        for p in ckpt_dir.rglob("*") if p.is_file())
    assert sorted(hub.files) == sorted(final_files + ckpt_files)
    assert {"README.md", "imu_lm_config.json", "imu_modules.safetensors", "adapter/adapter_model.safetensors",
            "adapter/adapter_config.json", "tokenizer.json"} <= set(final_files)
    for name in final_files:
        assert hub.files[name] == (final / name).read_bytes()
    assert hub.tags == {"step-2": COMMIT_OID, f"v{MODEL_FORMAT_VERSION}": COMMIT_OID}
    assert all(h["authorization"] == f"Bearer {TOKEN}" for _, _, h in hub.requests)
    assert [p.split("/")[-2] for m, p, _ in hub.requests if "/api/models/" in p] == \
        ["preupload", "commit", "tag"] * 2
    assert [c["repoType"] for c in hub.card_checks] == ["model"]
    card = hub.files["README.md"].decode()
    assert f'from_pretrained("{REPO}")' in card and str(base) in card
    # pushing the same final again moves the version tag
    push_final(final, REPO, api=HfApi(endpoint=ENDPOINT, token=TOKEN))
    assert [m for m, p, _ in hub.requests if "/tag/" in p][-3:] == ["POST", "DELETE", "POST"]


def test_model_card_renders_metrics_data_and_base_model(base, dataset, tmp_path):
    cfg = _cfg("meta-llama/Llama-3.2-1B", "imu-lab/imu2safety", tmp_path, objective="classify")
    metrics = hazard_metrics(["none", "falling", "falling"], ["none", "falling", "none"])
    card = render_model_card(cfg, {"best_metrics": metrics, "best_step": 4}, train_clips=11, repo_id=REPO)
    text = str(card)
    meta = yaml.safe_load(text.split("---\n")[1])
    assert meta["base_model"] == "meta-llama/Llama-3.2-1B" and meta["datasets"] == ["imu-lab/imu2safety"]
    assert "imu2safety" in meta["tags"]
    assert f"macro-F1 over hazard classes **{metrics['macro_f1']:.3f}**" in text
    assert "| falling | 1.000 | 0.500 | 0.667 | 2 |" in text
    assert "- **Base model:** `meta-llama/Llama-3.2-1B`" in text and "{{" not in text


def test_rows_without_pairs_get_the_label_pair_and_rows_with_pairs_keep_theirs():
    pairs = [[{"kind": "causal", "instruction": "Why?", "response": "It dropped fast."},
              {"kind": "description", "instruction": "What?", "response": "A drop."}], []]
    clips, skipped = clips_from_rows(_rows([np.zeros((60, 6))] * 2, instructions=pairs), 50.0)
    assert skipped == []
    label = (LABEL_INSTRUCTION, label_response("falling", "falling"))
    assert clips[0].pairs == [("Why?", "It dropped fast."), ("What?", "A drop."), label]
    assert clips[1].pairs == [label]
    clips, _ = clips_from_rows(_rows([np.zeros((60, 6))] * 2, instructions=pairs), 50.0, pair_kinds=["causal"])
    assert clips[0].pairs == [("Why?", "It dropped fast."), label]
    assert parse_response(label[1]) == ("falling", False, "falling")
    assert parse_response("activity: walking; hazard: none; safe") == ("none", True, "walking")
    assert parse_response("The person is losing balance.")[:2] == ("losing_balance", False)
    assert parse_response("gibberish") == (None, None, None)
    assert parse_response('Unsafe (hazard "dragging"). The largest |accel| is 16.8 m/s².')[:2] == ("dragging", False)


def test_collation_masks_prompt_and_padding_out_of_the_loss(base):
    model = IMULanguageModel.create(IMULMConfig(base_model=str(base), encoder=EncoderConfig(**ENCODER), lora=False))
    items = [{"id": "a", "imu": np.zeros((100, 6), np.float32), "instruction": "Q?", "response": "fine"},
             {"id": "b", "imu": np.zeros((10, 6), np.float32), "instruction": "Q?", "response": "a longer answer"}]
    batch = make_collator(model)(items)
    tok = model.tokenizer
    for k, it in enumerate(items):
        ids, labels = batch["input_ids"][k], batch["labels"][k]
        answer = tok.decode(ids[labels != -100])
        assert answer.startswith(it["response"]) and tok.eos_token in answer
        n = model.encoder.num_patches(len(it["imu"]))
        assert int((ids == model.patch_id).sum()) == n
        assert imu_span(n) in tok.decode(ids[batch["attention_mask"][k] == 1])
    assert torch.all(batch["labels"][batch["attention_mask"] == 0] == -100)
    assert batch["imu_mask"].sum(1).tolist() == [100, 10]


def test_bad_input_gives_clear_errors_or_documented_skips(base, tmp_path):
    nan = np.zeros((60, 6))
    nan[3, 1] = np.nan
    clips, skipped = clips_from_rows(_rows([np.ones((60, 6)), nan, np.ones((3, 6))]), 50.0)
    assert [c.id for c in clips] == ["c0", "c2"] and len(clips[1].imu) == 3  # short clip: padded later
    assert skipped == [("c1", "imu has NaN/Inf (first at sample 3, channel 1); clean or drop the clip")]
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['activity'\]"):
        clips_from_rows(_rows([np.ones((60, 6))]).remove_columns("activity"), 50.0)
    with pytest.raises(ValueError, match="cannot load base model 'no-such-org/no-such-model'"):
        load_base_model("no-such-org/no-such-model")
    with pytest.raises(ValueError, match="cannot load base model"):
        load_base_model(str(tmp_path))  # an empty folder
    model = IMULanguageModel.create(IMULMConfig(base_model=str(base), encoder=EncoderConfig(**ENCODER), lora=False))
    batch = make_collator(model)([{"id": "s", "imu": clips[1].imu, "instruction": "Q?", "response": "ok"}])
    assert torch.isfinite(model(**batch)["loss"])  # a 3-sample clip runs as one zero-padded patch
    batch["input_ids"][0, 2] = model.patch_id  # one placeholder too many
    with pytest.raises(ValueError, match="placeholder tokens per row"):
        model(**batch)
    with pytest.raises(ValueError, match="unknown training option"):
        TrainConfig.from_yaml(None, model="m", dataset="d", learning_rat=1.0)
    with pytest.raises(ValueError, match="give the base model and the dataset"):
        TrainConfig.from_yaml(None, model="m")


def test_cli_train_then_predict_dataset_and_file(base, dataset, tmp_path, capsys):
    from imu2safety.simulator.readers import write_imu

    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump({"encoder": ENCODER, "lora_r": 4, "max_duration_s": 3.0, "eval_split": None,
                                      "pair_kinds": ["classification"],
                                      "log_every": 1, "save_every": 2}))
    out = tmp_path / "run"
    assert main(["train", "--config", str(config), "--model", str(base), "--dataset", str(dataset),
                 "--dataset-config", "npz", "--output", str(out), "--max-steps", "2", "--batch-size", "4",
                 "--objective", "classify", "--learning-rate", "1e-3"]) == 0
    assert "trained 2 steps" in capsys.readouterr().out
    pred = tmp_path / "pred.jsonl"
    assert main(["predict", str(out / "final"), "--dataset", str(dataset), "--config", "npz",
                 "--split", "test", "-o", str(pred)]) == 0
    lines = [json.loads(x) for x in pred.read_text().splitlines()]
    assert len(lines) == 11 and all(set(x) >= {"id", "hazard", "safe", "score", "text"} for x in lines)
    assert all(x["hazard"] in HAZARD_NAMES and x["safe"] == (x["hazard"] == "none") for x in lines)
    assert all(0.0 <= x["score"] <= 1.0 for x in lines)
    rec = tmp_path / "rec.csv"
    t = np.arange(150) / 100.0
    write_imu(rec, np.tile([0.0, 0.0, 9.81], (150, 1)) + np.sin(t)[:, None], np.zeros((150, 3)), t, 100.0)
    one = tmp_path / "one.jsonl"
    assert main(["predict", str(out / "final"), "--input", str(rec), "-o", str(one)]) == 0
    [line] = [json.loads(x) for x in one.read_text().splitlines()]
    assert line["id"] == "rec" and 0.0 <= line["score"] <= 1.0
    assert main(["predict", str(tmp_path / "nothing"), "--input", str(rec), "-o", str(one)]) == 2
    assert "neither a model folder nor a Hub repo id" in capsys.readouterr().err


def test_predict_benchmark_writes_a_submission_the_scorer_accepts(base, dataset, tmp_path):
    from imu2safety.evaluation.scoring import evaluate_file
    from imu2safety.evaluation.tasks import LABELS, MANIFEST, WINDOWS, Windows, get_task

    out = tmp_path / "run"
    train(_cfg(base, dataset, out, objective="classify", max_steps=1, save_every=1), progress=False)
    task = get_task("fall-weda")
    n, t = 4, task.window_samples
    labels = np.array(["fall", "not_fall"] * 2)
    windows = Windows(np.array([f"w{i}" for i in range(n)]),
                      np.random.default_rng(0).normal(size=(n, t, 6)).astype(np.float32), labels,
                      np.array(["U01"] * n), np.array(["T1"] * n), np.zeros(n), labels == "not_fall",
                      task.sample_rate_hz, task)
    bench = tmp_path / "bench"
    windows.save(bench / WINDOWS.format(split="test"))
    (bench / MANIFEST).write_text(json.dumps(task.to_dict()))
    (bench / LABELS).write_text("".join(json.dumps({"id": i, "label": lab, "subject": "U01"}) + "\n"
                                        for i, lab in zip(windows.ids.tolist(), labels.tolist())))
    pred = tmp_path / "pred.jsonl"
    assert main(["predict", str(out / "final"), "--benchmark", str(bench), "-o", str(pred)]) == 0
    lines = [json.loads(x) for x in pred.read_text().splitlines()]
    assert [x["id"] for x in lines] == ["w0", "w1", "w2", "w3"]
    for x in lines:
        assert x["label"] == ("fall" if x["hazard"] in ("falling", "fainting") else "not_fall")
        assert 0.0 <= x["score"] <= 1.0
    result = evaluate_file(bench, pred)  # the scorer reads the file as a valid submission
    assert 0.0 <= result["macro_f1"] <= 1.0


def test_lora_stage_starts_from_the_alignment_stage(base, dataset, tmp_path):
    """``init_from`` loads the aligned encoder, projector and markers (and their statistics)."""
    from imu2safety.training.train import _build_model

    aligned = IMULanguageModel.create(IMULMConfig(base_model=str(base), lora=False, activities=["x"],
                                                  encoder=EncoderConfig(**ENCODER, norm_mean=[0.25] * 6)))
    _fill_random(aligned)
    aligned.save_pretrained(tmp_path / "aligned")
    clips, _ = clips_from_rows(datasets.load_dataset(str(dataset), "npz", split="train"), 50.0, 2.0, pair_kinds=[])
    model = _build_model(_cfg(base, dataset, tmp_path / "out", init_from=str(tmp_path / "aligned")), clips)
    assert model.config.lora and model.config.encoder.norm_mean == [0.25] * 6
    mine, theirs = model.imu_state_dict(), aligned.imu_state_dict()
    assert mine.keys() == theirs.keys()
    assert all(torch.equal(mine[k], theirs[k]) for k in mine)
    assert any("lora_A" in n and p.requires_grad for n, p in model.named_parameters())


def test_train_speed_benchmark_runs_and_prints(capsys):
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "train_speed.py"
    spec = importlib.util.spec_from_file_location("bench_train_speed", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    res = bench.main(["--steps", "1", "--warmup", "0", "--batch-size", "2", "--max-s", "3"])
    out = capsys.readouterr().out
    assert "tokens/s" in out and "peak memory" in out and "MFU" in out
    for name in ("baseline (LoRA LLM alone)", "IMU language model"):
        assert res[name]["tokens_per_s"] > 0 and res[name]["samples_per_s"] > 0
    assert res["peak_mib"] > 0 and res["ratio"] > 0
