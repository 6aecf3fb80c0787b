"""A word- or character-level RNN language model, and sampling from it."""

from __future__ import annotations

import numpy as np

import ember
from ember import nn

RNN_TYPES = {"lstm": nn.LSTM, "gru": nn.GRU}


class RNNLanguageModel(nn.Module):
    """Embedding -> LSTM or GRU -> dropout -> linear decoder, next-token logits at every step.

    Args:
        vocab_size, embedding_dim, hidden_size, num_layers: sizes.
        rnn_type: ``"lstm"`` or ``"gru"``.
        dropout: on the embeddings, between layers and before the decoder.
        tie_weights: share the decoder's weight with the embedding (Press & Wolf 2017; needs
            ``embedding_dim == hidden_size``).

    Example:
        >>> model = RNNLanguageModel(65, 16, 32)
        >>> logits, state = model(ember.zeros(10, 4, dtype=ember.int64))
        >>> tuple(logits.shape)
        (10, 4, 65)
    """

    def __init__(self, vocab_size: int, embedding_dim: int, hidden_size: int,
                 num_layers: int = 1, rnn_type: str = "lstm", dropout: float = 0.0,
                 tie_weights: bool = False) -> None:
        super().__init__()
        if rnn_type not in RNN_TYPES:
            raise ValueError(f"RNNLanguageModel: rnn_type must be one of {sorted(RNN_TYPES)}, "
                             f"got {rnn_type!r}")
        if tie_weights and embedding_dim != hidden_size:
            raise ValueError(f"RNNLanguageModel: tie_weights needs embedding_dim == hidden_size "
                             f"(got {embedding_dim} and {hidden_size})")
        self.rnn_type = rnn_type
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.rnn = RNN_TYPES[rnn_type](embedding_dim, hidden_size, num_layers,
                                       dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.decoder = nn.Linear(hidden_size, vocab_size)
        if tie_weights:
            self.decoder.weight = self.embedding.weight

    def forward(self, tokens: ember.Tensor, state=None) -> tuple:
        """``tokens`` ``(T, N)`` ids -> (logits ``(T, N, vocab_size)``, the final state)."""
        output, state = self.rnn(self.dropout(self.embedding(tokens)), state)
        return self.decoder(self.dropout(output)), state


def detach_state(state):
    """The recurrent state cut from its history (truncated BPTT between segments)."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


def top_k_probabilities(logits: ember.Tensor, temperature: float = 1.0,
                        top_k: int | None = None) -> ember.Tensor:
    """``softmax(logits / temperature)`` over the last dim, all but the ``top_k`` largest zeroed
    and the rest renormalised. ``logits``: ``(N, V)`` -> ``(N, V)``."""
    if temperature <= 0:
        raise ValueError(f"sample: temperature must be positive, got {temperature}")
    probabilities = (logits.detach() / temperature).softmax(dim=-1).cpu().numpy()
    if top_k is not None and top_k < probabilities.shape[-1]:
        if top_k < 1:
            raise ValueError(f"sample: top_k must be at least 1, got {top_k}")
        kth = np.partition(probabilities, -top_k, axis=-1)[..., -top_k, None]
        probabilities = np.where(probabilities >= kth, probabilities, 0.0)
        probabilities /= probabilities.sum(axis=-1, keepdims=True)
    return ember.tensor(probabilities, device=logits.device)


def sample(model: RNNLanguageModel, prompt: list[int], length: int, temperature: float = 1.0,
           top_k: int | None = None, generator=None) -> list[int]:
    """``length`` token ids drawn one at a time after reading ``prompt`` (at least one id).

    Lower ``temperature`` sharpens the distribution; ``top_k`` draws only among the k most
    likely tokens. ``generator`` (an ``ember.Generator``) makes the draw reproducible.
    """
    if not prompt:
        raise ValueError("sample: the prompt needs at least one token id")
    was_training = model.training
    model.eval()
    device = model.decoder.weight.device
    drawn = []
    with ember.no_grad():
        logits, state = model(ember.tensor([prompt], device=device).T)
        for _ in range(length):
            probabilities = top_k_probabilities(logits[-1], temperature, top_k)
            token = int(ember.multinomial(probabilities, 1, generator=generator).item())
            drawn.append(token)
            logits, state = model(ember.tensor([[token]], device=device), state)
    model.train(was_training)
    return drawn
