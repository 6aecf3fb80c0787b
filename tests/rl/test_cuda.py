"""The agents on a GPU (skipped where none exists): learning keeps every tensor there, and a model
trained on the GPU predicts the same after loading on the CPU."""

import gymnasium as gym
import numpy as np
import pytest

import ember
from ember_rl import A2C, PPO, REINFORCE

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not ember.cuda.is_available(), reason="needs a CUDA GPU")]

SMALL = {
    PPO: dict(n_steps=32, batch_size=16, n_epochs=2),
    A2C: dict(n_steps=8),
    REINFORCE: dict(n_steps=32),
}


@pytest.mark.parametrize("algo", [PPO, A2C, REINFORCE], ids=lambda a: a.__name__)
@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_learns_on_the_gpu_and_loads_on_the_cpu(algo, env_id, tmp_path):
    model = algo("MlpPolicy", env_id, seed=0, device="cuda", **SMALL[algo]).learn(128)
    assert model.num_timesteps >= 128
    assert all(p.device.type == "cuda" for p in model.policy.parameters())
    assert all(np.isfinite(p.detach().cpu().numpy()).all() for p in model.policy.parameters())
    observations = np.stack([gym.make(env_id).reset(seed=s)[0] for s in range(8)])
    on_gpu, _ = model.predict(observations, deterministic=True)
    model.save(str(tmp_path / "agent"))
    loaded = algo.load(str(tmp_path / "agent"), device="cpu")
    assert all(p.device.type == "cpu" for p in loaded.policy.parameters())
    on_cpu, _ = loaded.predict(observations, deterministic=True)
    if on_gpu.dtype.kind == "f":  # continuous actions: the same up to float32 rounding
        np.testing.assert_allclose(on_cpu, on_gpu, rtol=1e-5, atol=1e-5)
    else:
        np.testing.assert_array_equal(on_cpu, on_gpu)
