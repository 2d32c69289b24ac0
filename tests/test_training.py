import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

from iml.models import build_model, load_model, save_model
from iml.training import TrainingDiverged, seed_everything, train
from tests.helpers import REPO

SETTINGS = {"epochs": 6, "batch_size": 50, "lr": 1e-3, "seed": 0}


@pytest.fixture
def small_mnist(mnist_test_images):
    return mnist_test_images[:500]


pytestmark = pytest.mark.usefixtures("one_thread")


def fresh_model(seed=0):
    seed_everything(seed)
    return build_model("iml", 5, 784, {"hidden": 50})


def test_training_lowers_reconstruction_error(small_mnist, tmp_path):
    model = fresh_model()
    x = torch.as_tensor(small_mnist)
    with torch.no_grad():
        before = model.training_loss(x).item()
    history = train(model, small_mnist, SETTINGS, tmp_path / "ckpt.pt", torch.device("cpu"))
    with torch.no_grad():
        after = model.training_loss(x).item()
    assert len(history) == SETTINGS["epochs"]
    assert after < 0.6 * before and history[-1]["loss"] < history[0]["loss"]
    samples = model.decode(torch.randn(16, 5)).detach()
    assert samples.shape == (16, 784) and samples.min() > -0.01 and samples.max() < 1.01


def test_interrupted_training_resumes_to_the_same_parameters(small_mnist, tmp_path, monkeypatch):
    reference = fresh_model()
    train(reference, small_mnist, SETTINGS, tmp_path / "reference.pt", torch.device("cpu"))

    import iml.training

    saves = []
    real_save = iml.training.save_checkpoint

    def save_then_die(path, state):
        real_save(path, state)
        saves.append(state["epoch"])
        if len(saves) == 3:
            raise KeyboardInterrupt("killed after epoch 3")

    monkeypatch.setattr(iml.training, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        train(fresh_model(), small_mnist, SETTINGS, tmp_path / "run.pt", torch.device("cpu"))
    monkeypatch.setattr(iml.training, "save_checkpoint", real_save)
    resumed = fresh_model(seed=123)  # the checkpoint, not the initialisation, must decide
    history = train(resumed, small_mnist, SETTINGS, tmp_path / "run.pt", torch.device("cpu"))
    assert [h["epoch"] for h in history] == list(range(1, 7))
    for a, b in zip(reference.state_dict().values(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_changed_settings_do_not_resume_a_stale_checkpoint(small_mnist, tmp_path):
    train(fresh_model(), small_mnist, {**SETTINGS, "epochs": 2}, tmp_path / "c.pt", torch.device("cpu"))
    history = train(fresh_model(), small_mnist, {**SETTINGS, "lr": 5e-4}, tmp_path / "c.pt", torch.device("cpu"))
    assert len(history) == SETTINGS["epochs"]  # started from epoch 1


KILL_SETTINGS = {**SETTINGS, "epochs": 150}


@pytest.fixture(scope="module")
def uninterrupted(mnist_test_images, tmp_path_factory):
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # as the killed process trains, for identical floats
    reference = fresh_model()
    train(reference, mnist_test_images[:500], KILL_SETTINGS, tmp_path_factory.mktemp("ref") / "r.pt",
          torch.device("cpu"))
    torch.set_num_threads(previous)
    return reference.state_dict()


@pytest.mark.parametrize("trial", range(3))
def test_sigkilled_training_process_resumes(trial, small_mnist, tmp_path, uninterrupted):
    """A real kill (SIGKILL at a random epoch), then a rerun: the same parameters as an
    uninterrupted run. Three trials, killed at different epochs."""
    settings = KILL_SETTINGS
    np.save(tmp_path / "x.npy", small_mnist)
    ckpt = tmp_path / "kill.pt"
    script = textwrap.dedent(f"""
        import numpy as np, torch
        from iml.models import build_model
        from iml.training import seed_everything, train
        torch.set_num_threads(1)
        seed_everything(0)
        model = build_model("iml", 5, 784, {{"hidden": 50}})
        train(model, np.load({str(tmp_path / 'x.npy')!r}), {settings!r}, {str(ckpt)!r}, torch.device("cpu"))
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO)
    kill_after = np.random.default_rng(trial).integers(2, 60)
    deadline = time.time() + 120
    epoch = 0
    while time.time() < deadline and proc.poll() is None:
        if ckpt.exists():
            epoch = torch.load(ckpt, weights_only=True)["epoch"]
            if epoch >= kill_after:
                break
        time.sleep(0.05)
    assert proc.poll() is None, "training finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = torch.load(ckpt, weights_only=True)["epoch"]
    assert 0 < killed_at < settings["epochs"]

    resumed = fresh_model(seed=99)
    history = train(resumed, small_mnist, settings, ckpt, torch.device("cpu"))
    assert len(history) == settings["epochs"]
    for a, b in zip(uninterrupted.values(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_bad_data_and_divergence_are_reported(small_mnist, tmp_path):
    bad = small_mnist.copy()
    bad[3, 7] = np.nan
    with pytest.raises(ValueError, match="1 NaN or inf"):
        train(fresh_model(), bad, SETTINGS, tmp_path / "nan.pt", torch.device("cpu"))
    model = fresh_model()
    loss = model.training_loss
    model.training_loss = lambda batch: loss(batch) * float("nan")  # a blown-up step
    with pytest.raises(TrainingDiverged, match="epoch 1"):
        train(model, small_mnist, SETTINGS, tmp_path / "lr.pt", torch.device("cpu"))


def test_saved_model_round_trips(tmp_path):
    model = fresh_model()
    save_model(tmp_path / "m.pt", model, "iml", 5, 784, {"hidden": 50})
    loaded = load_model(tmp_path / "m.pt")
    h = torch.randn(3, 5)
    torch.testing.assert_close(loaded.decode(h), model.decode(h))


def _wgan(gradient_penalty=0.0, hidden=50):
    seed_everything(0)
    return build_model("wgan", 5, 784, {"hidden": hidden, "disc_hidden": 20, "gradient_penalty": gradient_penalty})


def _wgan_settings(gradient_penalty=0.0, hidden=50):
    return {"algorithm": "wgan", "K": 5, "hidden": hidden, "disc_hidden": 20, "gradient_penalty": gradient_penalty}


@pytest.mark.parametrize("change", ["gradient_penalty", "hidden", "data"])
def test_a_checkpoint_of_other_model_settings_or_data_is_set_aside(small_mnist, tmp_path, monkeypatch, caplog, change):
    """A WGAN killed after epoch 1, rerun with gradient_penalty 10, hidden 30 or other training
    data: the checkpoint is renamed *.stale with a line saying why, and training starts over."""
    import iml.training

    settings = {**SETTINGS, "epochs": 3, "betas": [0.5, 0.999]}
    real_save = iml.training.save_checkpoint

    def save_then_die(path, state):
        real_save(path, state)
        raise KeyboardInterrupt("killed after epoch 1")

    monkeypatch.setattr(iml.training, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        train(_wgan(), small_mnist, settings, tmp_path / "c.pt", torch.device("cpu"), model_settings=_wgan_settings())
    monkeypatch.setattr(iml.training, "save_checkpoint", real_save)
    new = {"gradient_penalty": {"gradient_penalty": 10.0}, "hidden": {"hidden": 30}, "data": {}}[change]
    data = small_mnist[::-1].copy() if change == "data" else small_mnist
    reference = _wgan(**new)
    train(reference, data, settings, tmp_path / "ref.pt", torch.device("cpu"), model_settings=_wgan_settings(**new))
    rerun = _wgan(**new)
    with caplog.at_level("WARNING", logger="iml.training"):
        history = train(rerun, data, settings, tmp_path / "c.pt", torch.device("cpu"),
                        model_settings=_wgan_settings(**new))
    assert [h["epoch"] for h in history] == [1, 2, 3]  # started over, no "size mismatch"
    part = "training data" if change == "data" else "model settings"
    assert re.search(rf"c.pt was made with other {part}: set aside as .*c.pt.stale", caplog.text)
    assert (tmp_path / "c.pt.stale").exists()
    for a, b in zip(reference.state_dict().values(), rerun.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)  # exactly a fresh run's parameters


def test_a_checkpoint_of_another_size_is_set_aside_without_model_settings(small_mnist, tmp_path, caplog):
    """A caller that passes no model_settings: the fingerprint still holds the parameters' names and
    shapes, so a checkpoint of a model of another width is set aside, not loaded into a size mismatch."""
    settings = {**SETTINGS, "epochs": 1}
    seed_everything(0)
    train(build_model("iml", 5, 784, {"hidden": 30}), small_mnist, settings, tmp_path / "c.pt", torch.device("cpu"))
    with caplog.at_level("WARNING", logger="iml.training"):
        history = train(fresh_model(), small_mnist, settings, tmp_path / "c.pt", torch.device("cpu"))
    assert len(history) == 1 and (tmp_path / "c.pt.stale").exists()
    assert re.search(r"c.pt was made with other model settings: set aside", caplog.text)


def test_a_planted_checkpoint_runs_no_code_and_is_set_aside(small_mnist, tmp_path):
    class Payload:
        def __reduce__(self):
            return (open, (str(tmp_path / "ran"), "w"))

    torch.save({"fingerprint": Payload()}, tmp_path / "c.pt")
    history = train(fresh_model(), small_mnist, {**SETTINGS, "epochs": 1}, tmp_path / "c.pt", torch.device("cpu"))
    assert len(history) == 1 and not (tmp_path / "ran").exists() and (tmp_path / "c.pt.stale").exists()
    torch.save({"state_dict": Payload()}, tmp_path / "m.pt")
    with pytest.raises(ValueError, match="m.pt: not a model written by save_model"):
        load_model(tmp_path / "m.pt")
    assert not (tmp_path / "ran").exists()


def test_an_empty_training_split_is_refused(tmp_path):
    with pytest.raises(ValueError, match="training split is empty"):
        train(fresh_model(), np.zeros((0, 784), np.float32), SETTINGS, tmp_path / "c.pt", torch.device("cpu"))


def test_two_digits_figure_sets_aside_a_checkpoint_of_another_width(shared_data, tmp_path):
    """Fig. 2's checkpoint: one made with hidden 30 must not be resumed by a run with hidden 20."""
    from iml.data.mnist import read_idx
    from iml.steps import figures

    x = read_idx(shared_data / "mnist" / "t10k-images-idx3-ubyte.gz")[:600].reshape(-1, 784)
    y = read_idx(shared_data / "mnist" / "t10k-labels-idx1-ubyte.gz")[:600].astype(np.int64)
    np.savez(tmp_path / "splits.npz", x_train=x, y_train=y)
    settings = {"digits": [0, 1], "hidden": 20, "n_components": 2, "n_decoded": 4,
                "train": {"epochs": 2, "batch_size": 50, "lr": 1e-3}}
    ckpt = tmp_path / "two_digits.ckpt"
    keep = np.isin(y, [0, 1])
    seed_everything(0)
    old = build_model("iml", 2, 784, {"hidden": 30})
    train(old, x[keep] / np.float32(255), {**settings["train"], "seed": 0}, ckpt,
          torch.device("cpu"), model_settings={"algorithm": "iml", "K": 2, "hidden": 30})
    figures.figure_two_digits(tmp_path, settings, 0, "cpu", [tmp_path / "f.png", tmp_path / "f.pdf"], ckpt)
    assert (tmp_path / "f.png").exists() and (tmp_path / "two_digits.ckpt.stale").exists()
