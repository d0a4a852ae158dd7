"""A tiny Llama-architecture base model with a tokenizer trained in-process (tests, CPU benchmarks).

Nothing is downloaded: a byte-level BPE tokenizer is trained with ``tokenizers`` on the label
vocabulary and the instruction texts, a ``LlamaConfig`` of a few layers gets random weights
(seeded), and both are saved with ``save_pretrained`` into a folder that ``from_pretrained`` (and
``IMULanguageModel``'s ``base_model``) reads like any Hub model.
"""

from __future__ import annotations

from pathlib import Path

from ..builders.labels import HAZARD_NAMES
from .data import LABEL_INSTRUCTION, label_response

#: A ChatML-like template (the tokenizer's bos/eos mark the turns).
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}{{ eos_token }}\n"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def _corpus(activities: list[str]) -> list[str]:
    text = [LABEL_INSTRUCTION, "<|user|>", "<|assistant|>", "The wearer is walking and then falls."]
    text += [label_response(a, h) for a in activities for h in HAZARD_NAMES]
    return text * 4


def make_tiny_base(folder: str | Path, hidden_size: int = 64, num_layers: int = 2, num_heads: int = 4,
                   intermediate_size: int = 128, vocab_size: int = 400, seed: int = 0,
                   activities: list[str] | None = None, init_std: float = 0.3) -> Path:
    """Write a tiny random Llama causal LM + trained tokenizer into ``folder``; returns it.

    init_std: weight init scale. Larger than Llama's 0.02 so that the frozen random output layer
    can give peaked next-token distributions (with 0.02 its logits stay near uniform and no
    adapter can lower the loss much below log(vocab)).
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder = Path(folder)
    activities = activities or ["walking", "sitting down", "drinking", "falling", "fighting"]
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<s>", "</s>", "<pad>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(_corpus(activities), trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    fast.chat_template = CHAT_TEMPLATE
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(fast), hidden_size=hidden_size, intermediate_size=intermediate_size,
                         num_hidden_layers=num_layers, num_attention_heads=num_heads,
                         num_key_value_heads=num_heads, max_position_embeddings=2048,
                         bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id,
                         pad_token_id=fast.pad_token_id, tie_word_embeddings=False,
                         initializer_range=init_std)
    LlamaForCausalLM(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder
