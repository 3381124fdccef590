"""Numbers computed from a task sequence's accuracies and embeddings: transfer
efficiency, confidence intervals, the geometry of the embeddings and where a
task's accuracy comes from. Functions of arrays and records; no training.
"""
