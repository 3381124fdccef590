"""Progressive (lifelong) learning networks whose transformers are trained with
the supervised contrastive loss, with kNN voters and transfer-efficiency metrics."""

from proglearn_supcon._version import __version__
from proglearn_supcon.deciders import SimpleArgmaxAverage
from proglearn_supcon.learner import ProgressiveLearner
from proglearn_supcon.network import LifelongClassificationNetwork, SupConKNNClassifier
from proglearn_supcon.training.losses import SupConLoss, TunedContrastiveLoss
from proglearn_supcon.transformers import NeuralClassificationTransformer
from proglearn_supcon.voters import KNNClassificationVoter

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
