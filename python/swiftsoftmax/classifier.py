"""A multi-class classifier whose output layer is softmax, trained by minimising cross-entropy.

``SoftmaxClassifier`` is the network of the article the project grew from: inputs, optional ReLU
hidden layers, and a softmax output layer, trained with mini-batch Adam on the cross-entropy loss.
The output layer and the loss are the library's: ``linear_cross_entropy`` gives the loss and its
gradients with respect to the output layer's input, weights and biases in one call, a chunk of
scores at a time (a large class count never holds every score of a batch), and ``softmax`` /
``log_softmax`` give the probabilities. Matrix products are NumPy's.

It follows scikit-learn's estimator conventions (``fit``/``predict``/``predict_proba``/``score``,
``get_params``/``set_params``, fitted attributes ending in ``_``) without depending on it.
"""

from __future__ import annotations

import inspect
import numbers
import sys
from typing import TYPE_CHECKING, Any, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

from ._forward import log_softmax, softmax
from ._linear import linear_cross_entropy
from ._loss import cross_entropy_with_grad

if TYPE_CHECKING:
    from sklearn.utils import Tags

__all__ = ["SoftmaxClassifier", "NotFittedError"]

# The learning rate decays (cosine) from learning_rate to this fraction of it over max_iter epochs.
_LR_FLOOR = 0.01

RandomState = Union[None, int, np.random.Generator, np.random.SeedSequence]


class NotFittedError(ValueError, AttributeError):
    """Raised when a classifier is used for prediction before ``fit``.

    A subclass of both ``ValueError`` and ``AttributeError``, like scikit-learn's
    ``sklearn.exceptions.NotFittedError``, so code that catches either keeps working.
    """


def _rng(random_state: RandomState) -> np.random.Generator:
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or isinstance(random_state, np.random.SeedSequence):
        return np.random.default_rng(random_state)
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return np.random.default_rng(int(random_state))
    raise ValueError(f"random_state: expected None, an int or a numpy.random.Generator, "
                     f"got {random_state!r}")


class SoftmaxClassifier:
    """A neural network classifier with a softmax output layer, trained on cross-entropy.

    With ``hidden_layer_sizes=()`` it is multinomial logistic regression: ``p = softmax(x W + b)``.
    Each entry of `hidden_layer_sizes` adds a fully connected ReLU layer before the output layer,
    as in a classic multi-layer perceptron. Features are standardised inside (centred and scaled
    by the training set's mean and standard deviation), so raw pixel values or measurements in
    different units can be passed as they are.

    Training minimises the mean cross-entropy plus an L2 penalty,

        ``loss = mean_n(-log p[n, y_n]) + weight_decay / 2 · Σ ‖W‖²``  (biases are not penalised)

    with mini-batch Adam. The output layer's loss and gradients come from the library's
    :func:`swiftsoftmax.linear_cross_entropy` (the fused cross-entropy kernel, in log space, on
    chunks of the scores).

    Parameters
    ----------
    hidden_layer_sizes : sequence of int, default ()
        Widths of the ReLU hidden layers. ``()`` is a linear model; ``(64,)`` one hidden layer.
    learning_rate : float, default 0.02
        Adam's initial step size. It decays along a cosine to 1/100 of this over `max_iter`
        epochs (and stays there for further ``partial_fit`` calls).
    max_iter : int, default 60
        Number of epochs (passes over the training set) that ``fit`` runs.
    batch_size : int, default 128
        Samples per gradient step (the last batch of an epoch may be smaller).
    weight_decay : float, default 3e-3
        L2 penalty on the weights (not the biases), added to the mean cross-entropy as
        ``weight_decay / 2 · Σ ‖W‖²``.
    label_smoothing : float, default 0.0
        ε in [0, 1]: each target becomes ``(1 - ε) · one_hot + ε / n_classes``. A little (0.1)
        helps networks with hidden layers generalise; it also makes them less confident.
    random_state : None, int or numpy.random.Generator, default None
        Seeds the weight initialisation and the shuffling of the batches. An int makes ``fit``
        reproducible: the same data gives bitwise the same model.
    verbose : bool, default False
        Print the training loss after each epoch.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The distinct labels seen by ``fit``, sorted; predictions are drawn from it.
    n_features_in_ : int
        Number of features seen by ``fit``.
    coefs_ : list of ndarray
        Weight matrices, ``coefs_[i]`` of shape ``(n_in, n_out)`` of layer ``i`` (acting on
        standardised features for the first layer).
    intercepts_ : list of ndarray
        Bias vectors, ``intercepts_[i]`` of shape ``(n_out,)``.
    mean_, scale_ : ndarray of shape (n_features_in_,)
        The standardisation: features are used as ``(X - mean_) / scale_``.
    loss_ : float
        Training loss (as defined above) over the last epoch.
    loss_curve_ : list of float
        Training loss over each epoch, averaged over the epoch's batches by size.
    n_iter_ : int
        Epochs run so far.
    t_ : int
        Gradient steps taken so far.

    See Also
    --------
    swiftsoftmax.linear_cross_entropy : the output layer's loss and gradients in training.
    swiftsoftmax.datasets.load_digits : a data set to try it on.

    Examples
    --------
    >>> from swiftsoftmax import SoftmaxClassifier
    >>> from swiftsoftmax.datasets import load_digits, train_test_split
    >>> X, y = load_digits()
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    >>> clf = SoftmaxClassifier(random_state=0).fit(X_train, y_train)
    >>> clf.score(X_test, y_test) > 0.96
    True
    >>> clf.predict(X_test[:8])
    array([6, 6, 6, 2, 5, 6, 6, 2])
    >>> y_test[:8]
    array([6, 6, 6, 2, 5, 6, 6, 2])
    >>> float(clf.predict_proba(X_test[:1]).sum().round(12))
    1.0

    Any labels work; predictions come back as the labels given:

    >>> names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven",
    ...                   "eight", "nine"])
    >>> mlp = SoftmaxClassifier((64,), random_state=0).fit(X_train, names[y_train])
    >>> mlp.predict(X_test[:3])
    array(['six', 'six', 'six'], dtype='<U5')
    """

    def __init__(self, hidden_layer_sizes: Sequence[int] = (), *, learning_rate: float = 0.02,
                 max_iter: int = 60, batch_size: int = 128, weight_decay: float = 3e-3,
                 label_smoothing: float = 0.0, random_state: RandomState = None,
                 verbose: bool = False) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.label_smoothing = label_smoothing
        self.random_state = random_state
        self.verbose = verbose

    # ---- scikit-learn's parameter protocol -------------------------------------------------

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values()
                if p.name != "self" and p.kind != p.VAR_KEYWORD]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters as a dict (scikit-learn's convention).

        Parameters
        ----------
        deep : bool, default True
            Accepted for compatibility; there are no nested estimators.

        Examples
        --------
        >>> SoftmaxClassifier((32,), max_iter=5).get_params()["hidden_layer_sizes"]
        (32,)
        """
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> "SoftmaxClassifier":
        """Sets constructor parameters by name and returns the classifier.

        Examples
        --------
        >>> SoftmaxClassifier().set_params(max_iter=10, learning_rate=0.1).max_iter
        10
        """
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"Invalid parameter {name!r} for estimator "
                                 f"{type(self).__name__}. Valid parameters are: {sorted(valid)!r}.")
            setattr(self, name, value)
        return self

    # For scikit-learn's tools (clone, cross_val_score, pipelines), which ask an estimator what it
    # is: a classifier. Only called by scikit-learn, so importing it here costs nothing otherwise.
    _estimator_type = "classifier"

    def __sklearn_tags__(self) -> Tags:
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags
        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags(), input_tags=InputTags())

    def __repr__(self) -> str:
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        changed = []
        for name, value in self.get_params().items():
            default = defaults.get(name)
            same = value is default
            if not same:
                try:
                    same = bool(value == default)
                except Exception:  # arrays and other objects without a plain ==
                    same = False
            if not same:
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"

    # ---- validation -------------------------------------------------------------------------

    def _validate_params(self) -> tuple[int, ...]:
        try:
            # Any: user values, checked below (a bare int is taken as one layer).
            hidden: tuple[Any, ...] = tuple(self.hidden_layer_sizes)
        except TypeError:
            hidden = (self.hidden_layer_sizes,)
        for h in hidden:
            if isinstance(h, bool) or not isinstance(h, numbers.Integral) or h < 1:
                raise ValueError(f"hidden_layer_sizes: expected positive ints, got "
                                 f"{self.hidden_layer_sizes!r}")
        checks = [
            ("learning_rate", self.learning_rate, lambda v: v > 0, "a number > 0"),
            ("weight_decay", self.weight_decay, lambda v: v >= 0, "a number >= 0"),
            ("label_smoothing", self.label_smoothing, lambda v: 0 <= v <= 1, "a number in [0, 1]"),
        ]
        for name, value, ok, what in checks:
            if (isinstance(value, bool) or not isinstance(value, numbers.Real)
                    or not np.isfinite(value) or not ok(value)):
                raise ValueError(f"{name}: expected {what}, got {value!r}")
        for name in ("max_iter", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name}: expected an int >= 1, got {value!r}")
        return tuple(int(h) for h in hidden)

    @staticmethod
    def _check_X(X: Any, name: str = "X") -> npt.NDArray[Any]:
        a = np.asarray(X)
        if a.dtype.kind not in "biuf":
            raise TypeError(f"{name}: expected numeric features, got dtype {a.dtype}")
        if a.ndim != 2:
            hint = (" Reshape your data with X.reshape(-1, 1) for a single feature or "
                    "X.reshape(1, -1) for a single sample." if a.ndim == 1 else "")
            raise ValueError(f"{name}: expected a 2-D array (n_samples, n_features), got shape "
                             f"{a.shape}.{hint}")
        if a.shape[0] == 0:
            raise ValueError(f"{name}: found an array with 0 samples (shape {a.shape})")
        if a.shape[1] == 0:
            raise ValueError(f"{name}: found an array with 0 features (shape {a.shape})")
        a = np.asarray(a, dtype=np.float64)
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name}: contains NaN or infinity")
        return a

    def _check_fitted(self) -> None:
        if not hasattr(self, "coefs_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator.")

    def _check_features(self, X: Any) -> npt.NDArray[Any]:
        self._check_fitted()
        a = self._check_X(X)
        if a.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {a.shape[1]} features, but {type(self).__name__} is "
                             f"expecting {self.n_features_in_} features as input.")
        return a

    @staticmethod
    def _check_y(y: Any, n_samples: int) -> npt.NDArray[Any]:
        t = np.asarray(y)
        if t.ndim == 2 and t.shape[1] == 1:
            t = t[:, 0]
        if t.ndim != 1:
            raise ValueError(f"y: expected a 1-D array of labels, got shape {t.shape}")
        if t.shape[0] != n_samples:
            raise ValueError(f"X and y have inconsistent numbers of samples: {n_samples} and "
                             f"{t.shape[0]}")
        if t.dtype.kind == "f" and not np.all(np.isfinite(t)):
            raise ValueError("y: contains NaN or infinity")
        return t

    # ---- the network --------------------------------------------------------------------------

    def _init(self, hidden: tuple[int, ...], n_features: int, n_classes: int,
              rng: np.random.Generator) -> None:
        sizes = [n_features, *hidden, n_classes]
        self.coefs_, self.intercepts_ = [], []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            # Glorot/Xavier uniform, as scikit-learn's MLP: keeps activations' variance steady.
            bound = np.sqrt(6.0 / (fan_in + fan_out))
            self.coefs_.append(rng.uniform(-bound, bound, size=(fan_in, fan_out)))
            self.intercepts_.append(np.zeros(fan_out))
        params = self.coefs_ + self.intercepts_
        self._adam_m = [np.zeros_like(p) for p in params]
        self._adam_v = [np.zeros_like(p) for p in params]
        self.loss_curve_: list[float] = []
        self.n_iter_ = 0
        self.t_ = 0

    def _standardize(self, X: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return (X - self.mean_) / self.scale_

    def _forward(self, Z: npt.NDArray[Any], output: bool = True
                 ) -> tuple[npt.NDArray[Any], list[npt.NDArray[Any]]]:
        """Output scores (logits) for standardised inputs, and every layer's input; without
        `output`, the output layer's input instead of the scores."""
        inputs = [Z]
        h = Z
        last = len(self.coefs_) - 1
        for i, (W, b) in enumerate(zip(self.coefs_, self.intercepts_)):
            if i == last and not output:
                break
            h = h @ W + b
            if i < last:
                np.maximum(h, 0.0, out=h)           # ReLU
                inputs.append(h)
        return h, inputs

    # The output layer. Subclasses may replace these three to train the same network with a
    # different output layer (the demo compares sigmoid outputs and sum-normalisation this way).

    def _output_loss(self, logits: npt.NDArray[Any], targets: npt.NDArray[Any]) -> tuple[float, npt.NDArray[Any]]:
        """Mean loss over the batch and its gradient with respect to `logits`."""
        loss, grad = cross_entropy_with_grad(logits, targets,
                                             label_smoothing=float(self.label_smoothing))
        return float(loss), grad

    def _output_proba(self, logits: npt.NDArray[Any]) -> npt.NDArray[np.floating[Any]]:
        return softmax(logits, axis=1)

    def _output_log_proba(self, logits: npt.NDArray[Any]) -> npt.NDArray[np.floating[Any]]:
        return log_softmax(logits, axis=1)

    def _loss_and_grads(self, Z: npt.NDArray[Any], targets: npt.NDArray[Any]
                        ) -> tuple[float, list[npt.NDArray[Any]], list[npt.NDArray[Any]]]:
        """The training loss on a batch and its gradients for coefs_ and intercepts_."""
        wd = float(self.weight_decay)
        n_layers = len(self.coefs_)
        # Filled from the last layer back, then reversed.
        grads_w: list[npt.NDArray[Any]] = []
        grads_b: list[npt.NDArray[Any]] = []
        top = n_layers - 1
        if type(self)._output_loss is SoftmaxClassifier._output_loss:
            # The softmax output layer in one call, which never holds the logits of a large
            # class count (docs/design.md, "The output layer"); other output layers below.
            h, inputs = self._forward(Z, output=False)
            W = self.coefs_[top]
            ce, dh, dw, db = linear_cross_entropy(h, W.T, targets, bias=self.intercepts_[top],
                                                  label_smoothing=float(self.label_smoothing),
                                                  return_grad=True)
            loss = float(ce)
            grads_w.append(dw.T + wd * W)
            assert db is not None  # a bias was given
            grads_b.append(db)
            if top > 0:
                delta = dh * (inputs[top] > 0)    # back through the ReLU
            top -= 1
        else:
            logits, inputs = self._forward(Z)
            loss, delta = self._output_loss(logits, targets)
        for i in range(top, -1, -1):
            W = self.coefs_[i]
            grads_w.append(inputs[i].T @ delta + wd * W)
            grads_b.append(delta.sum(axis=0))
            if i > 0:
                delta = (delta @ W.T) * (inputs[i] > 0)    # back through the ReLU
        grads_w.reverse()
        grads_b.reverse()
        if wd:
            loss += 0.5 * wd * sum(float(np.vdot(W, W)) for W in self.coefs_)
        return loss, grads_w, grads_b

    def _step(self, Z: npt.NDArray[Any], targets: npt.NDArray[Any]) -> float:
        """One Adam step on a batch of standardised inputs; returns the batch's loss."""
        loss, grads_w, grads_b = self._loss_and_grads(Z, targets)
        self.t_ += 1
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        lr = (float(self.learning_rate) * self._lr_factor()
              * np.sqrt(1 - beta2 ** self.t_) / (1 - beta1 ** self.t_))
        for p, g, m, v in zip(self.coefs_ + self.intercepts_, grads_w + grads_b,
                              self._adam_m, self._adam_v):
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            v += (1 - beta2) * (g * g)
            p -= lr * m / (np.sqrt(v) + eps)
        return loss

    def _lr_factor(self) -> float:
        """The schedule: cosine decay from 1 to _LR_FLOOR over max_iter epochs, then flat."""
        progress = min(self.n_iter_, int(self.max_iter)) / int(self.max_iter)
        factor: float = _LR_FLOOR + (1 - _LR_FLOOR) * 0.5 * (1 + np.cos(np.pi * progress))
        return factor

    def _epoch(self, Z: npt.NDArray[Any], targets: npt.NDArray[Any]) -> float:
        n = Z.shape[0]
        order = self._rng.permutation(n)
        batch = int(self.batch_size)
        total = 0.0
        for start in range(0, n, batch):
            idx = order[start:start + batch]
            total += self._step(Z[idx], targets[idx]) * len(idx)
        loss: float = total / n
        self.n_iter_ += 1
        self.loss_ = loss
        self.loss_curve_.append(loss)
        if self.verbose:
            print(f"Iteration {self.n_iter_}, loss = {loss:.8f}", file=sys.stdout, flush=True)
        return loss

    # ---- the estimator API ----------------------------------------------------------------------

    def _start(self, X: npt.NDArray[Any], classes: npt.NDArray[Any], hidden: tuple[int, ...]) -> None:
        if len(classes) < 2:
            raise ValueError(f"The number of classes has to be greater than one; got "
                             f"{len(classes)} class{'es' if len(classes) != 1 else ''}")
        self._rng = _rng(self.random_state)
        self.classes_ = classes
        self.n_features_in_ = X.shape[1]
        self.mean_: npt.NDArray[np.float64] = X.mean(axis=0)
        scale = X.std(axis=0)
        scale[scale < 1e-12 * np.maximum(1.0, np.abs(self.mean_))] = 1.0   # constant features
        self.scale_: npt.NDArray[np.float64] = scale
        self._init(hidden, X.shape[1], len(classes), self._rng)

    def _encode(self, y: npt.NDArray[Any]) -> npt.NDArray[Any]:
        idx = np.searchsorted(self.classes_, y)
        idx = np.minimum(idx, len(self.classes_) - 1)
        unknown = self.classes_[idx] != y
        if np.any(unknown):
            raise ValueError(f"y contains labels not in classes_: "
                             f"{np.unique(np.asarray(y)[unknown])[:5].tolist()!r}")
        return idx.astype(np.int64)

    def fit(self, X: npt.ArrayLike, y: npt.ArrayLike) -> "SoftmaxClassifier":
        """Trains the network from scratch for `max_iter` epochs.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            Numeric features (any real dtype; used as float64).
        y : array_like of shape (n_samples,)
            Labels of any sortable type: ints, strings, ... At least two distinct values.

        Returns
        -------
        self : SoftmaxClassifier
            The fitted classifier.

        Examples
        --------
        >>> clf = SoftmaxClassifier(max_iter=20, random_state=0)
        >>> clf.fit([[0.0, 1.0], [1.0, 0.0], [0.1, 0.9], [0.9, 0.2]], ["b", "a", "b", "a"])
        SoftmaxClassifier(max_iter=20, random_state=0)
        >>> clf.classes_.tolist(), clf.predict([[0.2, 0.8]]).tolist(), len(clf.loss_curve_)
        (['a', 'b'], ['b'], 20)
        """
        hidden = self._validate_params()
        Xa = self._check_X(X)
        ya = self._check_y(y, Xa.shape[0])
        classes, targets = np.unique(ya, return_inverse=True)
        self._start(Xa, classes, hidden)
        Z = self._standardize(Xa)
        targets = targets.astype(np.int64).reshape(-1)
        for _ in range(int(self.max_iter)):
            self._epoch(Z, targets)
        return self

    def partial_fit(self, X: npt.ArrayLike, y: npt.ArrayLike, classes: Optional[npt.ArrayLike] = None) -> "SoftmaxClassifier":
        """Runs one epoch over (X, y), continuing from the current weights and optimiser state.

        The first call sets up the network: it must be given every label in `classes` (or `y`
        must contain them all), and the standardisation is taken from this first `X`.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
        y : array_like of shape (n_samples,)
        classes : array_like, optional
            Every label the classifier will see; required on the first call unless `y` has
            them all. Ignored afterwards.

        Returns
        -------
        self : SoftmaxClassifier

        Examples
        --------
        >>> from swiftsoftmax.datasets import load_digits
        >>> X, y = load_digits()
        >>> clf = SoftmaxClassifier(random_state=0)
        >>> for epoch in range(3):
        ...     _ = clf.partial_fit(X, y)
        >>> clf.n_iter_, clf.score(X, y) > 0.95
        (3, True)
        """
        if not hasattr(self, "coefs_"):
            hidden = self._validate_params()
            Xa = self._check_X(X)
            ya = self._check_y(y, Xa.shape[0])
            labels = np.unique(ya if classes is None else np.asarray(classes))
            self._start(Xa, labels, hidden)
        else:
            self._validate_params()
            Xa = self._check_features(X)
            ya = self._check_y(y, Xa.shape[0])
        self._epoch(self._standardize(Xa), self._encode(ya))
        return self

    def decision_function(self, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The output scores (logits), one column per class of `classes_`.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        Xa = self._check_features(X)
        return self._forward(self._standardize(Xa))[0]

    def predict_proba(self, X: npt.ArrayLike) -> npt.NDArray[np.floating[Any]]:
        """Class probabilities: the library's softmax of the output scores.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Rows sum to 1; columns follow `classes_`.

        Examples
        --------
        >>> X, y = [[0.0], [1.0], [2.0], [3.0]], [3, 3, 7, 7]
        >>> clf = SoftmaxClassifier(learning_rate=0.1, random_state=0).fit(X, y)
        >>> clf.predict_proba([[0.0], [3.0]]).round(2)
        array([[0.99, 0.01],
               [0.01, 0.99]])
        """
        return self._output_proba(self.decision_function(X))

    def predict_log_proba(self, X: npt.ArrayLike) -> npt.NDArray[np.floating[Any]]:
        """Log-probabilities: the library's log_softmax of the output scores (exact in log space,
        so very confident predictions keep their digits where ``log(predict_proba(X))`` does not).

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        return self._output_log_proba(self.decision_function(X))

    def predict(self, X: npt.ArrayLike) -> npt.NDArray[Any]:
        """The most probable class of each sample (a label from `classes_`).

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        scores = self.decision_function(X)
        labels: npt.NDArray[Any] = self.classes_[np.argmax(scores, axis=1)]
        return labels

    def score(self, X: npt.ArrayLike, y: npt.ArrayLike, sample_weight: Optional[npt.ArrayLike] = None) -> float:
        """Mean accuracy of ``predict(X)`` against `y` (weighted by `sample_weight` if given).

        Returns
        -------
        float
        """
        pred = self.predict(X)
        ya = self._check_y(y, pred.shape[0])
        correct = (pred == ya).astype(np.float64)
        if sample_weight is None:
            return float(correct.mean())
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.shape != correct.shape:
            raise ValueError(f"sample_weight: expected shape {correct.shape}, got {w.shape}")
        return float(np.average(correct, weights=w))
