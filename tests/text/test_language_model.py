"""RNN language model, truncated BPTT helpers, sampling, and the char_lm example script."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember_text.bptt import batchify, bptt_batches
from ember_text.nn import RNNLanguageModel, detach_state, sample, top_k_probabilities

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("rnn_type", ["lstm", "gru"])
def test_shapes_state_and_tied_weights(rnn_type):
    model = RNNLanguageModel(11, 8, 8, num_layers=2, rnn_type=rnn_type, tie_weights=True)
    assert model.decoder.weight is model.embedding.weight
    assert len(list(model.parameters())) == len(set(map(id, model.parameters())))
    logits, state = model(ember.randint(0, 11, (5, 3)))
    assert tuple(logits.shape) == (5, 3, 11)
    detached = detach_state(state)
    for s in detached if isinstance(detached, tuple) else (detached,):
        assert tuple(s.shape) == (2, 3, 8) and not s.requires_grad
    logits2, _ = model(ember.randint(0, 11, (1, 3)), detached)
    assert tuple(logits2.shape) == (1, 3, 11)


def test_errors():
    with pytest.raises(ValueError, match="embedding_dim == hidden_size"):
        RNNLanguageModel(5, 4, 6, tie_weights=True)
    with pytest.raises(ValueError, match="rnn_type"):
        RNNLanguageModel(5, 4, 6, rnn_type="transformer")
    with pytest.raises(ValueError, match="fewer than 2 steps"):
        batchify(ember.arange(5), 4)
    with pytest.raises(ValueError, match="temperature"):
        top_k_probabilities(ember.zeros(1, 3), temperature=0)


def test_gradcheck_small_model():
    model = RNNLanguageModel(5, 3, 3, rnn_type="lstm").double()
    tokens = ember.tensor([[0, 1], [2, 3], [4, 0]])
    targets = ember.tensor([[1, 2], [3, 4], [0, 1]])

    def loss(*parameters):
        logits, _ = model(tokens)
        return F.cross_entropy(logits.reshape(-1, 5), targets.reshape(-1))

    assert ember.autograd.gradcheck(loss, tuple(model.parameters()))


def test_batchify_and_bptt():
    source = batchify(ember.arange(10), 3)  # 9 tokens in 3 columns of 3
    assert source.tolist() == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]
    pairs = list(bptt_batches(batchify(ember.arange(20), 2), 4))  # 10 steps: 4, 4, 1
    assert [tuple(x.shape) for x, _ in pairs] == [(4, 2), (4, 2), (1, 2)]
    for inputs, targets in pairs:
        assert (targets - inputs).tolist() == [[1, 1]] * inputs.shape[0]


def test_top_k_and_temperature():
    logits = ember.log(ember.tensor([[0.1, 0.2, 0.3, 0.4]]))
    assert np.allclose(top_k_probabilities(logits).numpy(), [[0.1, 0.2, 0.3, 0.4]], atol=1e-6)
    assert np.allclose(top_k_probabilities(logits, top_k=2).numpy(), [[0, 0, 3 / 7, 4 / 7]],
                       atol=1e-6)
    sharp = top_k_probabilities(logits, temperature=0.1).numpy()
    assert sharp[0, 3] > 0.9


def test_sample_reproducible_and_greedy():
    ember.manual_seed(0)
    model = RNNLanguageModel(7, 4, 6)
    draw = [sample(model, [1, 2], 20, generator=ember.Generator().manual_seed(5)) for _ in "ab"]
    assert draw[0] == draw[1] and len(draw[0]) == 20 and all(0 <= t < 7 for t in draw[0])
    greedy = sample(model, [1], 5, top_k=1)
    with ember.no_grad():  # top-1 is the argmax chain
        expected, token, state = [], 1, None
        for _ in range(5):
            logits, state = model(ember.tensor([[token]]), state)
            token = int(logits[-1, 0].argmax().item())
            expected.append(token)
    assert greedy == expected
    with pytest.raises(ValueError, match="prompt"):
        sample(model, [], 3)


def test_learns_a_periodic_stream():
    ember.manual_seed(0)
    stream = ember.tensor([0, 1, 2, 3, 2, 1] * 60)
    source = batchify(stream, 4)
    model = RNNLanguageModel(4, 8, 16)
    optimizer = ember.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(8):
        state = None
        for inputs, targets in bptt_batches(source, 15):
            state = detach_state(state)
            logits, state = model(inputs, state)
            loss = F.cross_entropy(logits.reshape(-1, 4), targets.reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    assert loss.item() < 0.1  # after "2" comes "1" or "3": the state must remember the direction


@pytest.fixture(scope="module")
def char_lm():
    spec = importlib.util.spec_from_file_location("char_lm", REPO / "examples/text/char_lm.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_char_lm_script_checkpoints_resumes_and_samples(char_lm, tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text("the cat sat on the mat. " * 200, encoding="utf-8")
    options = ["--data", str(text), "--hidden-size", "32", "--embedding-dim", "8", "--batch-size",
               "8", "--bptt", "20", "--lr", "0.01", "--log-dir", str(tmp_path / "run"), "--quiet",
               "--sample-length", "20"]
    first = char_lm.main([*options, "--epochs", "1"])
    assert first["valid"] < np.log(11)  # 11 distinct characters: better than uniform
    checkpoint = ember.load(tmp_path / "run" / "checkpoint.safetensors")
    assert checkpoint["epoch"] == 1 and checkpoint["epochs"] == 1
    second = char_lm.main(["--resume", str(tmp_path / "run" / "checkpoint.safetensors"),
                           "--epochs", "3", "--data", str(text), "--quiet"])
    assert ember.load(tmp_path / "run" / "checkpoint.safetensors")["epoch"] == 3
    assert second["valid"] < first["valid"]
    out = char_lm.main(["--resume", str(tmp_path / "run" / "best.safetensors"), "--sample-only",
                        "--data", str(text), "--prompt", "the ", "--sample-length", "30"])
    assert out["sample"].startswith("the ") and len(out["sample"]) == 34
