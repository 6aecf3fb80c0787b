"""Ember as a hub repository: ``ember.hub.load("path/to/ember", name, ...)`` (``ember.hub.list``
shows the names).

Vision: every model of the ember_vision zoo, by its registry name (``small_cnn``, ``resnet20``
...), with its ``weights=`` argument (the shipped weights: ``weights="DEFAULT"``). Text:
``rnn_language_model`` and ``tree_classifier``. RL: ``ppo``, ``a2c`` and ``reinforce`` (agents on
a Gymnasium environment). The text and RL entry points need ember_text / ember_rl installed.
"""

from ember_vision import models as _models

dependencies = ["ember", "ember_vision"]

for _name in _models.list_models():
    globals()[_name] = _models.get_model_builder(_name)


def rnn_language_model(vocab_size: int, embedding_dim: int, hidden_size: int, **kwargs):
    """ember_text's RNN language model (untrained): ``RNNLanguageModel(vocab_size,
    embedding_dim, hidden_size, num_layers=1, rnn_type="lstm", dropout=0.0, tie_weights=False)``.
    """
    from ember_text.nn import RNNLanguageModel

    return RNNLanguageModel(vocab_size, embedding_dim, hidden_size, **kwargs)


def tree_classifier(vocab_size: int, embedding_dim: int, hidden_size: int, num_classes: int,
                    **kwargs):
    """ember_text's tree-net sentiment classifier (untrained): ``TreeClassifier(vocab_size,
    embedding_dim, hidden_size, num_classes, cell="binary", dropout=0.0)``."""
    from ember_text.nn import TreeClassifier

    return TreeClassifier(vocab_size, embedding_dim, hidden_size, num_classes, **kwargs)


def ppo(env, policy="MlpPolicy", **kwargs):
    """An ember_rl PPO agent (untrained): ``PPO(policy, env, **kwargs)``; ``env`` is a Gymnasium
    id such as ``"CartPole-v1"`` or an environment."""
    from ember_rl import PPO

    return PPO(policy, env, **kwargs)


def a2c(env, policy="MlpPolicy", **kwargs):
    """An ember_rl A2C agent (untrained): ``A2C(policy, env, **kwargs)``."""
    from ember_rl import A2C

    return A2C(policy, env, **kwargs)


def reinforce(env, policy="MlpPolicy", **kwargs):
    """An ember_rl REINFORCE agent (untrained): ``REINFORCE(policy, env, **kwargs)``."""
    from ember_rl import REINFORCE

    return REINFORCE(policy, env, **kwargs)
