"""Progressive (lifelong) learning networks whose transformers are trained with
the supervised contrastive loss, with kNN voters and transfer-efficiency metrics."""

from ._version import __version__
from .deciders import SimpleArgmaxAverage
from .learner import ProgressiveLearner
from .losses import SupConLoss, TunedContrastiveLoss
from .network import LifelongClassificationNetwork, SupConKNNClassifier
from .transformers import NeuralClassificationTransformer
from .voters import KNNClassificationVoter

__all__ = [
    "__version__",
    "KNNClassificationVoter",
    "LifelongClassificationNetwork",
    "NeuralClassificationTransformer",
    "ProgressiveLearner",
    "SimpleArgmaxAverage",
    "SupConKNNClassifier",
    "SupConLoss",
    "TunedContrastiveLoss",
]
