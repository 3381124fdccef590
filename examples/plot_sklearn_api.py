"""
The scikit-learn API: a lifelong network and a single-task classifier
=====================================================================

:class:`~proglearn_supcon.LifelongClassificationNetwork` learns a sequence of
tasks with ``add_task`` and predicts any of them with ``predict`` and
``predict_proba``; :class:`~proglearn_supcon.SupConKNNClassifier` is the
single-task learner (one SupCon-trained transformer and its kNN voter) as an
ordinary scikit-learn classifier. Both are trained here for a few epochs on
tiny problems, so the accuracies are only illustrative.
"""

# %%
# A sequence of two image tasks
# -----------------------------
# :func:`~proglearn_supcon.datasets.task_sequence` splits a data set into
# class-disjoint tasks; ``digits-hard`` needs no download. Images are
# ``(n, 32, 32, 3)`` uint8 arrays.
import matplotlib.pyplot as plt
import numpy as np

from proglearn_supcon import LifelongClassificationNetwork, SupConKNNClassifier
from proglearn_supcon.datasets import task_sequence

tasks = task_sequence("digits-hard", n_tasks=2)
for task in tasks:
    print(
        f"task {task.task_id}: classes {task.classes}, "
        f"{len(task.X_train)} training and {len(task.X_test)} test images of shape {task.X_train.shape[1:]}"
    )

# %%
# Learn the tasks one after the other
# -----------------------------------
net = LifelongClassificationNetwork(loss="supcon", epochs=5, random_state=0)
for task in tasks:
    net.add_task(task.X_train, task.y_train, task_id=task.task_id)

task0 = tasks[0]
# every transformer's voters on task 0, against task 0's own transformer alone
acc_all = np.mean(net.predict(task0.X_test, task_id=0) == task0.y_test)
acc_single = np.mean(net.predict(task0.X_test, task_id=0, transformer_ids=[0]) == task0.y_test)
print(f"task 0 accuracy: {acc_all:.3f} with both transformers, {acc_single:.3f} with its own only")

# %%
# ``predict_proba`` has one column per class of the task, in sorted label order.
proba = net.predict_proba(tasks[1].X_test, task_id=1)
print(proba.shape, proba[:3].round(3))

# %%
# A single-task scikit-learn classifier on 2-D features
# -----------------------------------------------------
# With ``(n, d)`` feature arrays the default encoder is an MLP.
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split

X, y = make_classification(n_samples=300, n_features=10, n_informative=5, n_classes=3, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
clf = SupConKNNClassifier(epochs=10, random_state=0).fit(X_train, y_train)
print("classes:", clf.classes_, " test accuracy:", round(clf.score(X_test, y_test), 3))

# %%
# The posteriors of the first test points, per class:
fig, ax = plt.subplots(figsize=(5, 3))
ax.imshow(clf.predict_proba(X_test[:10]).T, aspect="auto", cmap="Blues", vmin=0, vmax=1)
ax.set(xlabel="test sample", ylabel="class", yticks=clf.classes_, title="SupConKNNClassifier.predict_proba")
fig.tight_layout()
