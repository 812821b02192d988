"""SoftmaxClassifier: accuracy on digits, scikit-learn's conventions, errors, determinism."""

from __future__ import annotations

import doctest
import time

import numpy as np
import pytest

import swiftsoftmax as ssm
import swiftsoftmax.classifier as classifier_module
from swiftsoftmax import NotFittedError, SoftmaxClassifier
from swiftsoftmax.datasets import load_digits, train_test_split

# The held-out quarter every accuracy target refers to: stratified, fixed seed.
SPLIT_SEED = 0


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    return train_test_split(X, y, test_size=0.25, random_state=SPLIT_SEED)


@pytest.fixture(scope="module")
def linear(digits):
    X_train, _, y_train, _ = digits
    start = time.perf_counter()
    clf = SoftmaxClassifier(random_state=0).fit(X_train, y_train)
    clf.fit_seconds_ = time.perf_counter() - start
    return clf


@pytest.fixture(scope="module")
def hidden(digits):
    X_train, _, y_train, _ = digits
    start = time.perf_counter()
    clf = SoftmaxClassifier((64,), label_smoothing=0.1, random_state=0).fit(X_train, y_train)
    clf.fit_seconds_ = time.perf_counter() - start
    return clf


# ---- accuracy targets ---------------------------------------------------------------------------

def test_split_is_a_stratified_quarter(digits):
    X_train, X_test, y_train, y_test = digits
    assert X_test.shape == (450, 64) and X_train.shape == (1347, 64)
    fractions = np.bincount(y_test) / (np.bincount(y_test) + np.bincount(y_train))
    assert np.all(np.abs(fractions - 0.25) < 0.01)


def test_linear_model_reaches_96_percent(linear, digits):
    _, X_test, _, y_test = digits
    assert linear.score(X_test, y_test) >= 0.96


def test_one_hidden_layer_reaches_97_5_percent(hidden, digits):
    _, X_test, _, y_test = digits
    assert hidden.score(X_test, y_test) >= 0.975


def test_within_one_point_of_scikit_learn_logistic_regression(linear, digits):
    pytest.importorskip("sklearn")
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X_train, X_test, y_train, y_test = digits
    reference = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    reference.fit(X_train, y_train)
    ours, theirs = linear.score(X_test, y_test), reference.score(X_test, y_test)
    assert abs(ours - theirs) <= 0.01 + 1e-12, (ours, theirs)


def test_sklearn_tools_accept_the_estimator(digits):
    pytest.importorskip("sklearn")
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score

    X_train, _, y_train, _ = digits
    clf = SoftmaxClassifier(max_iter=15, random_state=0)
    copy = clone(clf)
    assert copy.get_params() == clf.get_params() and copy is not clf
    scores = cross_val_score(clf, X_train, y_train, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.9)


# ---- the output layer is the library's --------------------------------------------------------

def test_training_uses_the_fused_loss_and_probabilities_use_softmax(monkeypatch, digits):
    X_train, X_test, y_train, _ = digits
    calls = {"ce": 0, "softmax": 0, "log_softmax": 0}

    def counting(name, f):
        def wrapped(*args, **kwargs):
            calls[name] += 1
            return f(*args, **kwargs)
        return wrapped

    # The output layer and its loss in one call (docs/design.md, "The output layer").
    monkeypatch.setattr(classifier_module, "linear_cross_entropy",
                        counting("ce", classifier_module.linear_cross_entropy))
    monkeypatch.setattr(classifier_module, "softmax", counting("softmax", classifier_module.softmax))
    monkeypatch.setattr(classifier_module, "log_softmax",
                        counting("log_softmax", classifier_module.log_softmax))
    clf = SoftmaxClassifier(max_iter=2, batch_size=100, random_state=0).fit(X_train, y_train)
    assert calls["ce"] == 2 * int(np.ceil(len(X_train) / 100))
    clf.predict_proba(X_test)
    clf.predict_log_proba(X_test)
    assert calls["softmax"] == 1 and calls["log_softmax"] == 1


def test_probabilities_are_softmax_of_the_scores(hidden, digits):
    _, X_test, _, _ = digits
    scores = hidden.decision_function(X_test)
    p = hidden.predict_proba(X_test)
    logp = hidden.predict_log_proba(X_test)
    assert p.shape == (len(X_test), 10) and logp.shape == p.shape
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(p, ssm.softmax(scores, axis=1), rtol=0, atol=0)
    np.testing.assert_allclose(np.exp(logp), p, rtol=1e-12, atol=1e-300)
    np.testing.assert_array_equal(hidden.classes_[np.argmax(p, axis=1)], hidden.predict(X_test))


@pytest.mark.parametrize("hidden_sizes", [(), (5,), (4, 3)])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_gradients_match_finite_differences(hidden_sizes, label_smoothing):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(12, 4))
    y = rng.integers(0, 3, size=12)
    y[:3] = [0, 1, 2]
    clf = SoftmaxClassifier(hidden_sizes, weight_decay=0.05, label_smoothing=label_smoothing,
                            max_iter=3, random_state=0).fit(X, y)
    Z = clf._standardize(X)
    _, gw, gb = clf._loss_and_grads(Z, y)
    h = 1e-6
    for params, grads in ((clf.coefs_, gw), (clf.intercepts_, gb)):
        for p, g in zip(params, grads):
            numeric = np.empty_like(p)
            for idx in np.ndindex(p.shape):
                old = p[idx]
                p[idx] = old + h
                up = clf._loss_and_grads(Z, y)[0]
                p[idx] = old - h
                down = clf._loss_and_grads(Z, y)[0]
                p[idx] = old
                numeric[idx] = (up - down) / (2 * h)
            np.testing.assert_allclose(g, numeric, rtol=1e-5, atol=1e-7)


# ---- scikit-learn's conventions -------------------------------------------------------------------

def test_fit_returns_self_and_sets_attributes(linear, hidden):
    for clf, shapes in ((linear, [(64, 10)]), (hidden, [(64, 64), (64, 10)])):
        assert [w.shape for w in clf.coefs_] == shapes
        assert [b.shape for b in clf.intercepts_] == [(s[1],) for s in shapes]
        assert clf.n_features_in_ == 64
        np.testing.assert_array_equal(clf.classes_, np.arange(10))
        assert clf.n_iter_ == clf.max_iter == len(clf.loss_curve_)
        assert clf.loss_ == clf.loss_curve_[-1]
        assert clf.loss_curve_[-1] < 0.5 * clf.loss_curve_[0]
        assert clf.mean_.shape == clf.scale_.shape == (64,)
        assert np.all(clf.scale_ > 0)
    clf = SoftmaxClassifier(max_iter=1)
    assert clf.fit([[0.0], [1.0]], [0, 1]) is clf


@pytest.mark.parametrize("labels", [
    np.array(["cat", "dog", "emu"]),
    np.array([-5, 10, 1000]),
    np.array([0.5, 1.5, 2.5]),
    np.array([False, True, True]),
])
def test_any_label_values(labels):
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
    idx = rng.integers(0, 3, size=150)
    X = centres[idx] + rng.normal(scale=0.5, size=(150, 2))
    y = labels[idx]
    clf = SoftmaxClassifier(random_state=0).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, np.unique(labels))
    pred = clf.predict(X)
    assert pred.dtype == np.unique(labels).dtype
    assert set(pred.tolist()) <= set(labels.tolist())
    assert clf.score(X, y) > 0.95
    assert clf.predict_proba(X).shape == (150, len(np.unique(labels)))


def test_column_vector_labels_and_list_inputs():
    X = [[0.0, 1.0], [1.0, 0.0], [0.2, 0.8], [0.9, 0.1]]
    y = [[1], [0], [1], [0]]
    clf = SoftmaxClassifier(learning_rate=0.1, random_state=0).fit(X, y)
    assert clf.predict([[0.1, 0.9]]).tolist() == [1]
    assert clf.score(X, np.ravel(y)) == 1.0


def test_score_with_sample_weight(linear, digits):
    _, X_test, _, y_test = digits
    correct = linear.predict(X_test) == y_test
    w = np.where(correct, 1.0, 3.0)
    expected = np.sum(w * correct) / np.sum(w)
    assert linear.score(X_test, y_test, sample_weight=w) == pytest.approx(expected)
    with pytest.raises(ValueError, match="sample_weight"):
        linear.score(X_test, y_test, sample_weight=w[:3])


def test_get_params_set_params_and_repr():
    clf = SoftmaxClassifier((32,), learning_rate=0.1, max_iter=7, batch_size=16, weight_decay=0.0,
                            label_smoothing=0.05, random_state=3, verbose=True)
    assert clf.get_params() == {
        "hidden_layer_sizes": (32,), "learning_rate": 0.1, "max_iter": 7, "batch_size": 16,
        "weight_decay": 0.0, "label_smoothing": 0.05, "random_state": 3, "verbose": True}
    assert clf.get_params(deep=False) == clf.get_params()
    assert clf.set_params(max_iter=9, learning_rate=0.5) is clf
    assert clf.max_iter == 9 and clf.learning_rate == 0.5
    with pytest.raises(ValueError, match="Invalid parameter 'epochs'"):
        clf.set_params(epochs=3)
    assert repr(SoftmaxClassifier()) == "SoftmaxClassifier()"
    assert repr(SoftmaxClassifier((64,), random_state=0)) == \
        "SoftmaxClassifier(hidden_layer_sizes=(64,), random_state=0)"
    # The constructor stores parameters untouched (validation happens in fit).
    assert SoftmaxClassifier(learning_rate=-1).learning_rate == -1


def test_random_state_makes_fit_deterministic(digits):
    X_train, X_test, y_train, _ = digits
    a = SoftmaxClassifier((16,), max_iter=5, random_state=42).fit(X_train, y_train)
    b = SoftmaxClassifier((16,), max_iter=5, random_state=42).fit(X_train, y_train)
    c = SoftmaxClassifier((16,), max_iter=5, random_state=43).fit(X_train, y_train)
    for wa, wb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_array_equal(wa, wb)
    assert a.loss_curve_ == b.loss_curve_
    np.testing.assert_array_equal(a.predict_proba(X_test), b.predict_proba(X_test))
    assert not np.array_equal(a.coefs_[0], c.coefs_[0])
    # Refitting the same object starts over.
    a.fit(X_train, y_train)
    assert a.loss_curve_ == b.loss_curve_


def test_partial_fit_epochs_reproduce_fit(digits):
    X_train, _, y_train, _ = digits
    full = SoftmaxClassifier(max_iter=4, random_state=7).fit(X_train, y_train)
    step = SoftmaxClassifier(max_iter=4, random_state=7)
    for _ in range(4):
        step.partial_fit(X_train, y_train, classes=np.arange(10))
    assert step.loss_curve_ == full.loss_curve_
    np.testing.assert_array_equal(step.coefs_[0], full.coefs_[0])


def test_partial_fit_needs_every_class_first():
    clf = SoftmaxClassifier(random_state=0)
    clf.partial_fit([[0.0], [1.0]], [0, 1], classes=[0, 1, 2])
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    clf.partial_fit([[2.0]], [2])
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit([[3.0]], [5])
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit([[3.0, 1.0]], [1])


def test_verbose_prints_one_line_per_epoch(capsys):
    SoftmaxClassifier(max_iter=3, verbose=True, random_state=0).fit([[0.0], [1.0]], [0, 1])
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("Iteration")]
    assert len(lines) == 3 and "loss = " in lines[0]


# ---- errors -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["predict", "predict_proba", "predict_log_proba",
                                    "decision_function", "score"])
def test_unfitted_use_raises_not_fitted_error(method):
    clf = SoftmaxClassifier()
    args = ([[0.0, 1.0]], [0]) if method == "score" else ([[0.0, 1.0]],)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        getattr(clf, method)(*args)
    assert issubclass(NotFittedError, ValueError) and issubclass(NotFittedError, AttributeError)


def test_mismatched_shapes_are_reported(linear, digits):
    X_train, X_test, y_train, _ = digits
    clf = SoftmaxClassifier(max_iter=1)
    with pytest.raises(ValueError, match="inconsistent numbers of samples: 1347 and 1346"):
        clf.fit(X_train, y_train[:-1])
    with pytest.raises(ValueError, match="2-D array"):
        clf.fit(X_train[0], y_train[:64])
    with pytest.raises(ValueError, match="1-D array of labels"):
        clf.fit(X_train, np.stack([y_train, y_train], axis=1))
    with pytest.raises(ValueError, match="X has 63 features, but SoftmaxClassifier is expecting 64"):
        linear.predict(X_test[:, :63])
    with pytest.raises(ValueError, match="2-D array.*reshape"):
        linear.predict(X_test[0])
    with pytest.raises(ValueError, match="0 samples"):
        linear.predict(np.empty((0, 64)))


def test_bad_data_is_rejected():
    clf = SoftmaxClassifier(max_iter=1)
    with pytest.raises(ValueError, match="greater than one"):
        clf.fit([[0.0], [1.0]], [4, 4])
    with pytest.raises(ValueError, match="NaN or infinity"):
        clf.fit([[0.0], [np.nan]], [0, 1])
    with pytest.raises(ValueError, match="NaN or infinity"):
        clf.fit([[0.0], [1.0]], [0.0, np.nan])
    with pytest.raises(TypeError, match="numeric"):
        clf.fit([["a"], ["b"]], [0, 1])
    assert not hasattr(clf, "coefs_")


@pytest.mark.parametrize("params, match", [
    (dict(learning_rate=0), "learning_rate"),
    (dict(learning_rate=float("nan")), "learning_rate"),
    (dict(max_iter=0), "max_iter"),
    (dict(batch_size=2.5), "batch_size"),
    (dict(weight_decay=-1e-3), "weight_decay"),
    (dict(label_smoothing=1.5), "label_smoothing"),
    (dict(hidden_layer_sizes=(0,)), "hidden_layer_sizes"),
    (dict(hidden_layer_sizes=("64",)), "hidden_layer_sizes"),
    (dict(random_state="seed"), "random_state"),
])
def test_invalid_parameters_are_rejected_by_fit(params, match):
    with pytest.raises(ValueError, match=match):
        SoftmaxClassifier(**params).fit([[0.0], [1.0]], [0, 1])


def test_an_int_hidden_layer_size_means_one_layer():
    clf = SoftmaxClassifier(8, max_iter=1, random_state=0).fit([[0.0], [1.0]], [0, 1])
    assert [w.shape for w in clf.coefs_] == [(1, 8), (8, 2)]


def test_constant_features_are_not_divided_by_zero():
    X = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 0.1], [1.0, 0.9]])
    clf = SoftmaxClassifier(learning_rate=0.1, random_state=0).fit(X, [0, 1, 0, 1])
    assert clf.scale_[0] == 1.0
    assert clf.score(X, [0, 1, 0, 1]) == 1.0


# ---- the documentation's examples run ------------------------------------------------------------

@pytest.mark.parametrize("module", ["swiftsoftmax.classifier", "swiftsoftmax.datasets"])
def test_docstring_examples(module):
    import importlib
    mod = importlib.import_module(module)
    failures, tried = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE,
                                      extraglobs={"np": np})
    assert tried > 0 and failures == 0


def test_docs_classifier_example():
    """docs/python.md's SoftmaxClassifier example runs and prints what it shows."""
    from pathlib import Path
    doc = Path(__file__).resolve().parents[2] / "docs" / "python.md"
    text = doc.read_text(encoding="utf-8")
    section = text[text.index("## A classifier"):]
    start = section.index("```python") + len("```python")
    block = section[start:section.index("```", start)]
    test = doctest.DocTestParser().get_doctest(block, {}, "docs/python.md classifier", str(doc), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.failures == 0 and runner.tries >= 5
