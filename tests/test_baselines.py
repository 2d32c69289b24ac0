"""VAE, GAN and WGAN through the shared training loop on real MNIST."""

import pytest
import torch

import iml.training
from iml.metrics.kde import kde_log_likelihood
from iml.models import build_model
from iml.training import seed_everything, train

MODELS = {
    "vae": ({"hidden": 100}, {"lr": 5e-4}),
    "gan": ({"hidden": 100, "disc_hidden": 50}, {"lr": 2e-4, "betas": [0.5, 0.999]}),
    "wgan": ({"hidden": 100, "disc_hidden": 50, "n_critic": 2}, {"lr": 2e-4, "betas": [0.5, 0.999]}),
    "wgan-gp": ({"hidden": 100, "disc_hidden": 50, "n_critic": 2, "gradient_penalty": 10.0},
                {"lr": 2e-4, "betas": [0.5, 0.999]}),
    # the WGAN authors' RMSprop and critic warm-up, the warm-up shortened to fit these few batches
    "wgan-rmsprop": ({"hidden": 100, "disc_hidden": 50, "optimizer": "rmsprop", "n_critic": 2, "n_critic_warmup": 5,
                      "warmup_generator_steps": 3, "warmup_every": 4}, {"lr": 5e-5}),
}


pytestmark = pytest.mark.usefixtures("one_thread")


def make(name, seed=0):
    seed_everything(seed)
    return build_model(name.split("-")[0], 8, 784, MODELS[name][0])


def settings(name, epochs):
    return {"epochs": epochs, "batch_size": 50, "seed": 0, **MODELS[name][1]}


def sample_score(model, test, n=500):
    torch.manual_seed(1)
    with torch.no_grad():
        samples = model.decode(torch.randn(n, model.latent_dim)).numpy()
    assert samples.shape == (n, 784) and samples.min() >= 0 and samples.max() <= 1
    return kde_log_likelihood(test, samples, 0.2, "sum").mean()


@pytest.mark.parametrize("name", list(MODELS))
def test_short_training_improves_samples(name, mnist_test_images, tmp_path):
    train_x, test = mnist_test_images[:1500], mnist_test_images[-300:]
    model = make(name)
    before = sample_score(model, test)
    history = train(model, train_x, settings(name, 6), tmp_path / "c.pt", torch.device("cpu"))
    after = sample_score(model.eval(), test)
    assert after > before + 500, (before, after)  # nats per test image under the paper's KDE (untrained: about -1700)
    if name == "vae":
        assert history[-1]["loss"] < 0.8 * history[0]["loss"]  # the negative ELBO falls
    assert {"epoch", "seconds"} < set(history[-1])


@pytest.mark.parametrize("name", list(MODELS))
def test_resume_after_interruption_matches_uninterrupted(name, mnist_test_images, tmp_path, monkeypatch):
    data, cfg = mnist_test_images[:300], settings(name, 4)
    reference = make(name)
    train(reference, data, cfg, tmp_path / "ref.pt", torch.device("cpu"))

    real_save = iml.training.save_checkpoint

    def save_then_die(path, state):
        real_save(path, state)
        if state["epoch"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(iml.training, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        train(make(name), data, cfg, tmp_path / "run.pt", torch.device("cpu"))
    monkeypatch.setattr(iml.training, "save_checkpoint", real_save)
    resumed = make(name, seed=5)
    train(resumed, data, cfg, tmp_path / "run.pt", torch.device("cpu"))
    for (key, a), b in zip(reference.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=key)


def test_wgan_clips_the_critic(mnist_test_images, tmp_path):
    model = make("wgan")
    train(model, mnist_test_images[:200], settings("wgan", 1), tmp_path / "c.pt", torch.device("cpu"))
    weights = torch.cat([p.flatten() for p in model.critic.parameters()])
    assert weights.abs().max() <= 0.01 + 1e-7
    assert int(model.critic_steps) == 4  # 200 / 50 critic steps, generator every 2nd


def test_vae_encoder_gives_posterior_means(mnist_test_images):
    model = make("vae")
    x = torch.as_tensor(mnist_test_images[:10])
    codes = model.encode(x)
    assert codes.shape == (10, 8) and torch.isfinite(codes).all()
    torch.testing.assert_close(codes, model.posterior(x)[0])


def authors_schedule(n_batches, epochs, n_critic, warmup, first, every):
    """The WGAN authors' training loop (their main.py), counting only: the total number of
    critic steps done when each generator step is taken."""
    critic_steps, gen_iterations, taken = 0, 0, []
    for _ in range(epochs):
        i = 0
        while i < n_batches:
            d_iters = warmup if gen_iterations < first or gen_iterations % every == 0 else n_critic
            j = 0
            while j < d_iters and i < n_batches:
                j, i, critic_steps = j + 1, i + 1, critic_steps + 1
            taken.append(critic_steps)
            gen_iterations += 1
    return taken


@pytest.mark.parametrize("epochs,n_batches", [(3, 7), (2, 13)])
def test_wgan_critic_schedule_is_the_authors(epochs, n_batches, mnist_test_images, tmp_path, monkeypatch):
    schedule = {"n_critic": 2, "n_critic_warmup": 5, "warmup_generator_steps": 3, "warmup_every": 4}
    seed_everything(0)
    model = build_model("wgan", 4, 784, {"hidden": 20, "disc_hidden": 10, "optimizer": "rmsprop", **schedule})
    taken, step = [], model._generator_step
    monkeypatch.setattr(model, "_generator_step", lambda *a: taken.append(int(model.critic_steps)) or step(*a))
    train(model, mnist_test_images[: 10 * n_batches], {"epochs": epochs, "batch_size": 10, "seed": 0, "lr": 5e-5},
          tmp_path / "c.pt", torch.device("cpu"))
    expected = authors_schedule(n_batches, epochs, 2, 5, 3, 4)
    assert taken == expected and int(model.generator_steps) == len(expected)
    assert isinstance(model.make_optimizers({"lr": 5e-5})["critic"], torch.optim.RMSprop)
