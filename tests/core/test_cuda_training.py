"""Training steps on cuda: no host synchronisation, and a memory pool that stops growing.

A host synchronisation (``.item()``, ``bool()`` or an ``if`` on a GPU value) makes Python wait
for the GPU in every step. cupy raises ``DeviceSynchronized`` where it reads GPU memory back
inside ``cupyx.allow_synchronize(False)`` (deprecated in CuPy 14, still working: its warning is
silenced here), so each step below runs inside it, after one warm-up step outside (kernels
compile, optimizer state appears). A failure names the Ember lines that synchronised.

These tests run where cupy sees a GPU (``make test-gpu``).
"""

import traceback
import warnings

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn

pytestmark = pytest.mark.cuda

CUDA = "cuda"


def _where(error: BaseException) -> str:
    """The innermost Ember and test frames of ``error``'s traceback, innermost first."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if "/ember" in frame.filename or "/tests/" in frame.filename]
    return "\n  ".join(f"{frame.filename.rsplit('/src/', 1)[-1]}:{frame.lineno} in {frame.name}:"
                       f" {frame.line}" for frame in reversed(frames[-4:]))


def run_without_sync(step, steps: int = 3) -> None:
    """``step()`` once to warm up, then ``steps`` times with host synchronisation forbidden."""
    import cupyx

    step()
    ember.cuda.synchronize()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="cupyx.allow_synchronize will be removed")
        with cupyx.allow_synchronize(False):
            for index in range(steps):
                try:
                    step()
                except cupyx.DeviceSynchronized as error:
                    pytest.fail(f"step {index + 1} synchronised with the host at\n  "
                                f"{_where(error)}", pytrace=False)
    ember.cuda.synchronize()


def _train_step(model, optimizer, inputs, targets, loss_fn=F.cross_entropy, clip=None):
    def step():
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        # the first and the latest loss, kept on the GPU (read after the steps; keeping every
        # one would hold a new block of the pool each step)
        step.losses[1 if step.losses else 0:] = [loss.detach()]

    step.losses = []
    return step


def _trains_without_sync(model, optimizer, inputs, targets, clip=None) -> None:
    step = _train_step(model, optimizer, inputs, targets, clip=clip)
    run_without_sync(step)
    _finite_and_falling(step.losses)


def _finite_and_falling(losses) -> None:
    values = [loss.item() for loss in losses]
    assert np.isfinite(values).all(), values
    assert values[-1] < values[0], values


def _conv_net():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 3 * 3, 10)).to(CUDA)


def test_mlp_with_adam_and_dropout_does_not_synchronise():
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 64),
                          nn.Tanh(), nn.Linear(64, 5)).to(CUDA)
    optimizer = ember.optim.Adam(model.parameters(), lr=1e-2)
    _trains_without_sync(model, optimizer, ember.randn(32, 20, device=CUDA),
                         ember.randint(0, 5, (32,), device=CUDA))


def test_conv_net_with_batch_norm_max_pool_and_sgd_momentum_does_not_synchronise():
    ember.manual_seed(0)
    model = _conv_net()
    optimizer = ember.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    _trains_without_sync(model, optimizer, ember.randn(16, 1, 16, 16, device=CUDA),
                         ember.randint(0, 10, (16,), device=CUDA))


def test_lstm_language_model_with_gradient_clipping_does_not_synchronise():
    ember.manual_seed(0)
    vocab, steps, batch = 40, 12, 4

    class LanguageModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(vocab, 16)
            self.lstm = nn.LSTM(16, 32)
            self.decoder = nn.Linear(32, vocab)

        def forward(self, tokens):
            hidden, _ = self.lstm(self.embedding(tokens))
            return self.decoder(hidden).reshape(-1, vocab)

    model = LanguageModel().to(CUDA)
    optimizer = ember.optim.SGD(model.parameters(), lr=1.0)
    tokens = ember.randint(0, vocab, (steps + 1, batch), device=CUDA)
    _trains_without_sync(model, optimizer, tokens[:-1], tokens[1:].reshape(-1), clip=0.25)


def test_ppo_update_does_not_synchronise():
    """The PPO minibatch update of benchmarks/bench_rl.py: indexing by a device permutation,
    Categorical log_prob and entropy, exp, clamp, minimum, std, mse_loss, clipping."""
    ember.manual_seed(0)
    actor = nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 2)).to(CUDA)
    critic = nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 1)).to(CUDA)
    parameters = list(actor.parameters()) + list(critic.parameters())
    optimizer = ember.optim.Adam(parameters, lr=3e-4, eps=1e-5)
    observations = ember.randn(64, 4, device=CUDA)
    actions = ember.randint(0, 2, (64,), device=CUDA)
    old_log_probs = ember.full((64,), -0.69, device=CUDA)
    advantages, returns = ember.randn(64, device=CUDA), ember.randn(64, device=CUDA)

    rng = np.random.default_rng(0)

    def update():
        order = ember.from_numpy(rng.permutation(64)).to(CUDA)  # as the benchmark draws it
        for start in range(0, 64, 16):
            index = order[start:start + 16]
            dist = ember.distributions.Categorical(logits=actor(observations[index]),
                                                   validate_args=False)
            values = critic(observations[index]).flatten()
            adv = advantages[index]
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            ratio = ember.exp(dist.log_prob(actions[index]) - old_log_probs[index])
            clipped = ember.clamp(ratio, 0.8, 1.2)
            policy_loss = -ember.minimum(adv * ratio, adv * clipped).mean()
            loss = policy_loss + 0.5 * F.mse_loss(returns[index], values) \
                - 0.01 * dist.entropy().mean()
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(parameters, 0.5)
            optimizer.step()

    run_without_sync(update)


def test_memory_pool_stops_growing_over_a_long_run():
    """30 steps of a small conv net: after a few steps the pool holds all it needs and reuses
    it (no growth from fragmentation), and the peak stays within the pool."""
    ember.manual_seed(0)
    ember.cuda.reset_peak_memory_stats()
    before = ember.cuda.memory_allocated()  # what earlier tests left
    model = _conv_net()
    optimizer = ember.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    inputs = ember.randn(32, 1, 16, 16, device=CUDA)
    targets = ember.randint(0, 10, (32,), device=CUDA)
    step = _train_step(model, optimizer, inputs, targets)
    reserved = []
    for _ in range(30):
        step()
        reserved.append(ember.cuda.memory_reserved())
    ember.cuda.synchronize()
    # Up to 64 KiB of slack: the late value checks hold 2-element arrays until the GPU has
    # passed them, as many as the host runs ahead; one activation leaked a step (256 KiB)
    # or fragmentation would grow the pool by megabytes over these 20 steps.
    assert reserved[-1] - reserved[9] <= 64 * 1024, f"the pool grew after step 10: {reserved}"
    parameter_bytes = sum(p.nbytes for p in model.parameters())
    peak = ember.cuda.max_memory_allocated()
    assert ember.cuda.memory_allocated() <= peak <= ember.cuda.memory_reserved()
    # weights, gradients, momenta and activations: more than the first three, far from 64 MiB
    assert 3 * parameter_bytes < peak - before < 64 * 2**20
    _finite_and_falling(step.losses)


# ---- checks that report late, without waiting for the GPU ------------------------------------


def test_an_index_out_of_range_is_reported_at_synchronize_without_waiting():
    import cupyx

    weight = ember.randn(5, 3, device=CUDA)
    bad = ember.tensor([1, 7], device=CUDA)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="cupyx.allow_synchronize will be removed")
        with cupyx.allow_synchronize(False):
            F.embedding(bad, weight)  # queued: no error yet, and no wait
    with pytest.raises(IndexError, match=r"embedding: index out of range in self .*\[1, 7\]"):
        ember.cuda.synchronize()
    ember.cuda.synchronize()  # reported once
    with pytest.raises(IndexError, match="Target 9 is out of bounds"):
        F.cross_entropy(ember.randn(2, 4, device=CUDA), ember.tensor([0, 9], device=CUDA))
        ember.cuda.synchronize()
    with pytest.raises(IndexError, match="index 4 is out of bounds for dimension 0 with size 3"):
        ember.arange(3, device=CUDA)[ember.tensor([0, 4], device=CUDA)]
        ember.cuda.synchronize()


def test_cross_entropy_on_cuda_matches_the_cpu_with_ignored_targets():
    logits = ember.randn(6, 4, dtype=ember.float64)
    target = ember.tensor([0, -100, 3, 2, -100, 1])
    weight = ember.rand(4, dtype=ember.float64)
    for kwargs in ({}, {"weight": weight}, {"label_smoothing": 0.1}):
        expected = F.cross_entropy(logits, target, **kwargs)
        cuda_kwargs = {k: v.to(CUDA) if isinstance(v, ember.Tensor) else v
                       for k, v in kwargs.items()}
        got = F.cross_entropy(logits.to(CUDA), target.to(CUDA), **cuda_kwargs)
        np.testing.assert_allclose(got.item(), expected.item(), rtol=1e-12)
    everything_ignored = ember.full((3,), -100, dtype=ember.int64, device=CUDA)
    assert np.isnan(F.cross_entropy(logits[:3].to(CUDA), everything_ignored).item())


def test_max_pool_with_nan_on_cuda_matches_the_cpu():
    x = ember.randn(2, 3, 6, 6, dtype=ember.float64)
    x[0, 1, 2, 3] = float("nan")
    x.requires_grad_(True)
    x_cuda = x.detach().to(CUDA).requires_grad_(True)
    out, out_cuda = F.max_pool2d(x, 2), F.max_pool2d(x_cuda, 2)
    np.testing.assert_array_equal(out_cuda.detach().cpu().numpy(), out.detach().numpy())
    out.sum().backward()
    out_cuda.sum().backward()
    np.testing.assert_array_equal(x_cuda.grad.cpu().numpy(), x.grad.numpy())


# ---- pinned memory and non-blocking copies ------------------------------------------------------


def _busy_gpu():
    """Queues some milliseconds of GPU work (hundreds of times what the host does before it
    asks) and returns an event recorded after it."""
    a = ember.randn(2048, 2048, device=CUDA) * 2048**-0.5
    for _ in range(40):
        a = a @ a
    queued = ember.cuda.Event()
    queued.record()
    return queued


def test_a_non_blocking_copy_returns_before_the_queued_work_is_done():
    host = ember.arange(1 << 16, dtype=ember.float32).pin_memory()
    queued = _busy_gpu()
    on_gpu = host.to(CUDA, non_blocking=True)
    assert not queued.query(), "the non-blocking copy waited for the GPU"
    np.testing.assert_array_equal(on_gpu.cpu().numpy(), np.arange(1 << 16))


def test_non_blocking_copy_from_pinned_memory_is_asynchronous_and_correct():
    import cupyx

    host = ember.arange(1 << 20, dtype=ember.float32).pin_memory()
    assert host.is_pinned() and not ember.arange(3).is_pinned()
    assert host.pin_memory() is host
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="cupyx.allow_synchronize will be removed")
        with cupyx.allow_synchronize(False):
            on_gpu = host.to(CUDA, non_blocking=True)
            also = host.cuda(non_blocking=True)
            target = ember.empty(1 << 20, device=CUDA)
            target.copy_(host, non_blocking=True)
            total = on_gpu.sum() + also.sum() + target.sum()
    del host  # the copies hold the pinned buffer until they are done
    expected = 3 * float(np.arange(1 << 20, dtype=np.float64).sum())
    np.testing.assert_allclose(total.item(), expected, rtol=1e-6)


def test_dataloader_pins_nested_batches_for_non_blocking_copies():
    from collections import namedtuple

    Pair = namedtuple("Pair", "image label")
    data = [{"pair": Pair(ember.full((2,), float(i)), ember.tensor(i)), "name": f"s{i}",
             "extra": [ember.ones(1) * i]} for i in range(6)]
    loader = ember.utils.data.DataLoader(data, batch_size=3, pin_memory=True)
    for number, batch in enumerate(loader):
        assert isinstance(batch["pair"], Pair) and batch["name"] == [f"s{3 * number + i}"
                                                                     for i in range(3)]
        tensors = [batch["pair"].image, batch["pair"].label, batch["extra"][0]]
        assert all(t.is_pinned() for t in tensors)
        queued = _busy_gpu()
        image = batch["pair"].image.to(CUDA, non_blocking=True)
        assert not queued.query(), "the non-blocking copy of a pinned batch waited for the GPU"
        np.testing.assert_array_equal(image.cpu().numpy()[:, 0], np.arange(3) + 3 * number)
