"""Ember RL: policy-gradient agents, rollouts and logging on top of Ember.

Planned modules: ``agents`` (REINFORCE, A2C, PPO), ``policies``, ``distributions``, ``buffers``
(rollouts, GAE), ``envs`` (Gymnasium helpers, tiny test envs), ``logger`` and ``train``.
"""

__version__ = "0.1.0"
