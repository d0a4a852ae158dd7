"""Optional teacher models that rewrite the templated answers (off by default).

Two backends behind one interface (``Teacher``): a local transformers causal LM (a folder or a Hub
id, loaded with ``from_pretrained``, never ``trust_remote_code``) and any OpenAI-compatible chat
endpoint (``POST {url}/chat/completions``, e.g. a vLLM server; the key comes from an environment
variable and is never logged). ``make_teacher("local:MODEL" | "openai:URL", ...)`` builds one.

The teacher sees the clip's labels, the facts of every clip the pair names, the instruction and
the templated answer, and is asked for a richer answer that keeps every number, clip id and
label as written. Its answer replaces the template only when it passes the same checker
(``pairs.make_pairs`` checks it); otherwise it is discarded and counted. Requests are sent in
batches of ``batch_size`` with at most ``max_concurrency`` in flight, retried with exponential
back-off, and cached on disk by sha256(clip id, prompt, model), so a re-run costs nothing. A
timeout, an HTTP error or a garbled answer costs only that pair (it keeps its template).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from .checker import ClipInfo

logger = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You are an expert in wearable inertial sensing and human safety. You rewrite answers about a "
    "wrist IMU clip (3-axis accelerometer in m/s², 3-axis gyroscope in rad/s, sensor frame) so that "
    "they read naturally and explain the motion. Rules: use only numbers that appear in the draft "
    "answer, written exactly as there with their units; keep clip ids in backticks and labels in "
    "double quotes as written; never add an event (free fall, impact, stillness) the draft does not "
    "state; never put a number without its unit. Reply with the answer only."
)


def build_prompt(clip: ClipInfo, pair: Mapping[str, str], named: Mapping[str, ClipInfo]) -> str:
    """The user message for one pair: labels, facts of the named clips, instruction, draft answer."""
    facts = {cid: {k: v for k, v in c.facts.items() if v is not None} for cid, c in sorted(named.items())}
    labels = {cid: {"hazard": c.hazard, "activity": c.activity, "safe": c.safe} for cid, c in sorted(named.items())}
    return (f"Clip: `{clip.id}`\nLabels: {json.dumps(labels, sort_keys=True)}\n"
            f"Facts (SI units): {json.dumps(facts, sort_keys=True)}\n\n"
            f"Instruction: {pair['instruction']}\n\nDraft answer: {pair['response']}\n\n"
            "Rewrite the draft answer following the rules.")


def clean_answer(text: str | None) -> str | None:
    """The answer's text without surrounding quotes/whitespace or a leading 'Answer:'; None if empty."""
    if text is None:
        return None
    text = text.strip()
    for prefix in ("Answer:", "Rewritten answer:", "Final answer:"):
        if text.lower().startswith(prefix.lower()):
            text = text[len(prefix):].strip()
    return text or None


@dataclass
class Teacher:
    """Common machinery: prompts, cache, batching and statistics; subclasses implement ``_generate``.

    model: model folder/id (local) or model name (endpoint); part of the cache key.
    cache_dir: answers cached as ``<sha256>.json`` files (None: no cache).
    batch_size: prompts per generate call (local) or per dispatch (endpoint).
    max_concurrency: requests in flight at once (endpoint).
    retries: extra attempts after a failed request; back-off ``backoff_s * 2**attempt`` seconds.
    timeout_s: per request (endpoint).
    """

    model: str
    cache_dir: Path | None = None
    batch_size: int = 8
    max_concurrency: int = 4
    retries: int = 2
    backoff_s: float = 0.5
    timeout_s: float = 60.0
    stats: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.max_concurrency < 1 or self.retries < 0:
            raise ValueError(f"batch_size and max_concurrency must be >= 1 and retries >= 0, got "
                             f"{self.batch_size}, {self.max_concurrency}, {self.retries}")
        if self.cache_dir is not None:
            self.cache_dir = Path(self.cache_dir)

    # ------------------------------------------------------------------ cache

    def cache_key(self, clip_id: str, prompt: str) -> str:
        return hashlib.sha256(json.dumps([clip_id, prompt, self.model]).encode("utf-8")).hexdigest()

    def _cache_get(self, key: str) -> str | None:
        if self.cache_dir is None:
            return None
        path = self.cache_dir / f"{key}.json"
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))["text"]
        except (ValueError, KeyError, OSError):
            return None

    def _cache_put(self, key: str, clip_id: str, text: str) -> None:
        if self.cache_dir is None:
            return
        from ..dataset.layout import write_bytes_atomic

        payload = {"clip_id": clip_id, "model": self.model, "text": text}
        write_bytes_atomic(self.cache_dir / f"{key}.json", json.dumps(payload, ensure_ascii=False).encode())

    # ------------------------------------------------------------------ interface

    def __call__(self, batch: Sequence[tuple[ClipInfo, list[dict[str, str]], dict[str, ClipInfo]]]
                 ) -> list[list[dict[str, str] | None]]:
        """Rewritten pairs (None where the teacher gave nothing) for each clip's pairs of ``batch``."""
        jobs: list[tuple[int, int, str, str, str]] = []   # (clip index, pair index, key, clip id, prompt)
        out: list[list[dict[str, str] | None]] = [[None] * len(pairs) for _, pairs, _ in batch]
        answers: dict[str, str | None] = {}
        for i, (clip, pairs, named) in enumerate(batch):
            for j, pair in enumerate(pairs):
                prompt = build_prompt(clip, pair, named)
                key = self.cache_key(clip.id, prompt)
                jobs.append((i, j, key, clip.id, prompt))
        todo = []
        for _, _, key, cid, prompt in jobs:
            if key in answers:
                continue
            cached = self._cache_get(key)
            if cached is not None:
                self.stats["cache_hits"] += 1
                answers[key] = cached
            else:
                answers[key] = None
                todo.append((key, cid, prompt))
        for start in range(0, len(todo), self.batch_size):
            part = todo[start:start + self.batch_size]
            texts = self._generate([p for _, _, p in part])
            for (key, cid, _), text in zip(part, texts):
                text = clean_answer(text)
                if text is None:
                    self.stats["failed"] += 1
                    continue
                self.stats["generated"] += 1
                answers[key] = text
                self._cache_put(key, cid, text)
        for i, j, key, _, _ in jobs:
            text = answers.get(key)
            if text is not None:
                pair = batch[i][1][j]
                out[i][j] = {"kind": pair["kind"], "instruction": pair["instruction"], "response": text}
        return out

    def _generate(self, prompts: list[str]) -> list[str | None]:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass
class LocalTeacher(Teacher):
    """A transformers causal LM on this machine (greedy decoding, left-padded batches).

    max_new_tokens: answer length limit. device: "cpu", "cuda", ... dtype: torch dtype name or "auto".
    """

    max_new_tokens: int = 256
    device: str = "cpu"
    dtype: str = "auto"
    _tok: Any = field(default=None, repr=False)
    _lm: Any = field(default=None, repr=False)

    def _load(self) -> None:
        if self._lm is not None:
            return
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self._tok = AutoTokenizer.from_pretrained(self.model)
        self._tok.padding_side = "left"
        if self._tok.pad_token is None:
            self._tok.pad_token = self._tok.eos_token or self._tok.unk_token
        self._lm = AutoModelForCausalLM.from_pretrained(self.model, dtype=self.dtype).to(self.device).eval()

    def _text(self, prompt: str) -> str:
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}]
        if getattr(self._tok, "chat_template", None):
            return self._tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return f"{SYSTEM_PROMPT}\n\n{prompt}\n\nAnswer:"

    def _generate(self, prompts: list[str]) -> list[str | None]:
        import torch

        self._load()
        try:
            enc = self._tok([self._text(p) for p in prompts], return_tensors="pt", padding=True)
            enc = {k: v.to(self.device) for k, v in enc.items()}
            with torch.no_grad():
                ids = self._lm.generate(**enc, max_new_tokens=self.max_new_tokens, do_sample=False,
                                        pad_token_id=self._tok.pad_token_id)
            new = ids[:, enc["input_ids"].shape[1]:]
            return [t for t in self._tok.batch_decode(new, skip_special_tokens=True)]
        except Exception as err:  # one bad batch costs only its own pairs
            logger.warning("local teacher %s failed on a batch of %d: %s: %s", self.model, len(prompts),
                           type(err).__name__, err)
            return [None] * len(prompts)


@dataclass
class EndpointTeacher(Teacher):
    """An OpenAI-compatible chat endpoint: ``url`` is the API base (e.g. http://127.0.0.1:8000/v1).

    key_env: environment variable holding the API key (sent as a Bearer token; never logged).
    max_tokens / temperature: sampling options of each request.
    """

    url: str = ""
    key_env: str = "OPENAI_API_KEY"
    max_tokens: int = 512
    temperature: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"teacher endpoint must be an http(s) URL, got {self.url!r}")
        self.url = self.url.rstrip("/")

    def _request(self, prompt: str) -> str | None:
        body = json.dumps({
            "model": self.model, "temperature": self.temperature, "max_tokens": self.max_tokens,
            "messages": [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}],
        }).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        for attempt in range(self.retries + 1):
            req = urllib.request.Request(f"{self.url}/chat/completions", data=body, headers=headers)
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    data = json.loads(resp.read().decode("utf-8"))
                return str(data["choices"][0]["message"]["content"])
            except urllib.error.HTTPError as err:
                reason = f"HTTP {err.code}"
                retry = err.code == 429 or err.code >= 500
            except (urllib.error.URLError, TimeoutError, OSError) as err:
                reason, retry = type(err).__name__, True
            except (ValueError, KeyError, IndexError, TypeError) as err:
                reason, retry = f"malformed response ({type(err).__name__})", False
            self.stats["request_errors"] += 1
            if not retry or attempt == self.retries:
                logger.warning("teacher endpoint %s: giving up on one request: %s", self.url, reason)
                return None
            self.stats["retries"] += 1
            time.sleep(self.backoff_s * 2 ** attempt)
        return None

    def _generate(self, prompts: list[str]) -> list[str | None]:
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(prompts))) as pool:
            return list(pool.map(self._request, prompts))


def make_teacher(spec: str, model: str | None = None, cache_dir: Path | None = None,
                 key_env: str = "OPENAI_API_KEY", **kw: Any) -> Teacher | None:
    """``"none"`` -> None; ``"local:MODEL"`` -> LocalTeacher; ``"openai:URL"`` -> EndpointTeacher
    (``model`` names the served model; default "default")."""
    if spec in ("none", "", None):
        return None
    kind, sep, target = spec.partition(":")
    if not sep or not target:
        raise ValueError(f"teacher must be none, local:MODEL or openai:URL, got {spec!r}")
    if kind == "local":
        return LocalTeacher(model=target, cache_dir=cache_dir, **kw)
    if kind == "openai":
        return EndpointTeacher(model=model or "default", url=target, key_env=key_env, cache_dir=cache_dir, **kw)
    raise ValueError(f"teacher must be none, local:MODEL or openai:URL, got {spec!r}")
