"""Teachers: a fake OpenAI-compatible endpoint on the loopback interface and a tiny local model."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from imu2safety.builders.instructions.checker import ClipInfo, check_pair
from imu2safety.builders.instructions.facts import G, compute_facts
from imu2safety.builders.instructions.pairs import InstructionStats, make_pairs
from imu2safety.builders.instructions.teachers import LocalTeacher, make_teacher

KEY = "sk-test-do-not-log-0123456789"
SUFFIX = " Each figure above is read from the recording itself."


def _clip(cid: str, hazard: str, activity: str, k: int) -> ClipInfo:
    rng = np.random.default_rng(k)
    imu = rng.normal(0, 0.3, (250, 6))
    imu[:, 2] += G
    if hazard != "none":
        imu[100:115, :3] = 0.1                 # free fall
        imu[115, 0] = 40.0 + k                 # impact
    return ClipInfo(cid, hazard, activity, compute_facts(imu, 50.0))


@pytest.fixture
def index() -> dict[str, list[ClipInfo]]:
    return {"train": [_clip("good_fall", "falling", "falling", 1), _clip("garbage_sit", "none", "sitting down", 2),
                      _clip("slow_fall", "falling", "falling", 3), _clip("flaky_sit", "none", "sitting down", 4)]}


class _Server:
    """OpenAI-compatible /v1/chat/completions whose behaviour depends on the clip id in the prompt."""

    def __init__(self, delay_s: float = 3.0) -> None:
        self.requests: list[dict] = []
        self.auth: set[str] = set()
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        self.seen_flaky: set[str] = set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                prompt = body["messages"][-1]["content"]
                clip = re.search(r"Clip: `([^`]+)`", prompt).group(1)
                counted = not clip.startswith("slow")  # the client abandons those: not in its flight
                with server.lock:
                    server.in_flight += counted
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    server.requests.append(body)
                    server.auth.add(self.headers.get("Authorization", ""))
                    draft = re.search(r"Draft answer: (.*)\n\nRewrite", prompt, re.S).group(1)
                    time.sleep(0.05)
                    if clip.startswith("slow"):
                        time.sleep(delay_s)
                    if clip.startswith("flaky"):
                        with server.lock:
                            first = prompt not in server.seen_flaky
                            server.seen_flaky.add(prompt)
                        if first:
                            self.send_response(503)
                            self.end_headers()
                            return
                    text = ("The impact reached 999.0 m/s² at 0.01 s." if clip.startswith("garbage")
                            else draft + SUFFIX)
                    out = json.dumps({"choices": [{"message": {"role": "assistant", "content": text}}]}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with server.lock:
                        server.in_flight -= counted

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_endpoint_teacher_checked_batched_retried_cached(index, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("TEACHER_KEY", KEY)
    known = {c.id: c for c in index["train"]}
    plain = make_pairs(index, seed=0)
    caplog.set_level(logging.DEBUG)
    with _Server() as server:
        teacher = make_teacher(f"openai:{server.url}", model="tiny", cache_dir=tmp_path / "cache",
                               key_env="TEACHER_KEY", max_concurrency=3, batch_size=5, timeout_s=1.5,
                               retries=1, backoff_s=0.01)
        stats = InstructionStats()
        got = make_pairs(index, seed=0, teacher=teacher, stats=stats)
        n_requests = len(server.requests)
        assert server.auth == {f"Bearer {KEY}"} and server.max_in_flight <= 3
        assert all(r["model"] == "tiny" and r["temperature"] == 0.0 for r in server.requests)
        # a re-run is answered from the cache: no request for any answered pair
        again = make_pairs(index, seed=0, teacher=teacher, stats=InstructionStats())
        slow = sum(len(p) for cid, p in plain.items() if cid.startswith("slow"))
        assert len(server.requests) - n_requests == 2 * slow  # only the timed-out ones are asked again
    assert again == got
    assert KEY not in caplog.text
    for cid, pairs in got.items():
        assert len(pairs) == len(plain[cid])          # nobody loses a pair
        for pair, base in zip(pairs, plain[cid]):
            assert check_pair(pair, known[cid], known) == []
            if cid.startswith(("good", "flaky")):     # rewritten (flaky after one retry)
                assert pair["response"] == base["response"] + SUFFIX and pair["instruction"] == base["instruction"]
            else:                                     # garbage discarded, timeouts kept the template
                assert pair == base
    n_good = sum(len(plain[c]) for c in ("good_fall", "flaky_sit"))
    assert stats.teacher["used"] == n_good
    assert stats.teacher["discarded_by_checker"] == len(plain["garbage_sit"])
    assert teacher.stats["failed"] >= len(plain["slow_fall"]) and teacher.stats["retries"] >= 1


def _tiny_model(folder) -> None:
    """A 2-layer Llama with a BPE tokenizer trained here (nothing downloads)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    corpus = ["The impact reaches 50.0 m/s² at 1.30 s.", "Rotation is about the z axis.",
              "Clip facts: free fall, stillness, tilt, hazard falling, activity walking."] * 20
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=120, special_tokens=["<unk>", "<pad>", "<s>", "</s>"]))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>",
                                   bos_token="<s>", eos_token="</s>")
    fast.save_pretrained(folder)
    cfg = LlamaConfig(vocab_size=len(fast), hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=4096,
                      pad_token_id=fast.pad_token_id, bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id)
    LlamaForCausalLM(cfg).save_pretrained(folder)


def test_local_teacher_garbage_is_discarded_and_cached(index, tmp_path):
    folder = tmp_path / "tiny"
    _tiny_model(folder)
    small = {"train": index["train"][:1]}
    plain = make_pairs(small, seed=0)
    teacher = make_teacher(f"local:{folder}", cache_dir=tmp_path / "cache", max_new_tokens=4, batch_size=4)
    assert isinstance(teacher, LocalTeacher)
    stats = InstructionStats()
    got = make_pairs(small, seed=0, teacher=teacher, stats=stats)
    assert got == plain        # an untrained model's words never pass the checker ...
    n = sum(len(p) for p in plain.values())
    assert stats.teacher.get("discarded_by_checker", 0) + teacher.stats["failed"] == n  # ... and are counted
    assert teacher.stats["generated"] + teacher.stats["failed"] == n
    generated = teacher.stats["generated"]
    make_pairs(small, seed=0, teacher=teacher, stats=InstructionStats())
    assert teacher.stats["generated"] == generated and teacher.stats["cache_hits"] == generated


def test_teacher_spec_errors():
    assert make_teacher("none") is None
    with pytest.raises(ValueError, match="local:MODEL or openai:URL"):
        make_teacher("gpt")
    with pytest.raises(ValueError, match="http"):
        make_teacher("openai:ftp://x")


def test_pairs_on_worker_processes_equal_one_process(monkeypatch):
    from imu2safety.builders.instructions import pairs as pairs_mod

    index = {"train": [_clip(f"c{k:02d}", "falling" if k % 3 else "none", "falling" if k % 3 else "sitting down", k)
                       for k in range(12)]}
    monkeypatch.setattr(pairs_mod, "PAIR_BATCH", 5)
    one = make_pairs(index, seed=3)
    assert make_pairs(index, seed=3, num_proc=2) == one
    assert sum(len(p) for p in one.values()) == 4 * 12
