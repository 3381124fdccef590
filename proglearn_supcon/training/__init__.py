"""How a transformer's encoder is trained: the encoders and heads, the losses,
the augmentations, the training loop and the epoch selection (early stopping).

The estimators (:mod:`proglearn_supcon.network`) and the transformer
(:mod:`proglearn_supcon.transformers`) build on these; nothing here imports
the estimators, the run records, the experiments or the plots.
"""
