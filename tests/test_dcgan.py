"""The CELEB-A DCGAN networks at a small width, on real sample faces (preprocessed by
iml.data.celeba) when the sample and OpenCV are there, else on smooth synthetic images."""

import os

import numpy as np
import pytest
import torch
from torch import nn

from iml.data import images as layout
from iml.models import dcgan
from iml.training import seed_everything, train
from tests.helpers import celeba_missing

K, WIDTH = 16, 8


pytestmark = pytest.mark.usefixtures("one_thread")


def synthetic_faces(n, seed=0):
    """Smooth random RGB images: 4x4 noise blown up to 64x64, uint8."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (n, 4, 4, 3)).astype(np.float32)
    return np.repeat(np.repeat(coarse, 16, 1), 16, 2).astype(np.uint8)


@pytest.fixture(scope="module")
def faces(shared_data, tmp_path_factory):
    """(N, 12288) uint8 vectors, channels first: the real sample faces; outside CI, where OpenCV or
    the sample is missing, smooth synthetic images (under CI that is a failure)."""
    from iml.data import celeba

    missing = celeba_missing(shared_data)
    if missing:
        if os.environ.get("CI"):
            pytest.fail(missing)
        return layout.from_image(synthetic_faces(32))
    out = tmp_path_factory.mktemp("faces")
    celeba.crop_faces(shared_data / "celeba_sample" / "img_align_celeba", None, out,
                      split_sizes={"test": 0, "validation": 0})
    return layout.from_image(np.asarray(celeba.load_split_images(out / "train.npy")))


def scaled(x):
    return torch.as_tensor(x).float() / 127.5 - 1


ALL = {
    "ae": lambda: dcgan.DCGANAutoencoder(K, data_dim=layout.DATA_DIM, width=WIDTH),
    "vae": lambda: dcgan.DCGANVAE(K, data_dim=layout.DATA_DIM, width=WIDTH),
    "gan": lambda: dcgan.DCGANGAN(K, data_dim=layout.DATA_DIM, width=WIDTH),
    "wgan": lambda: dcgan.DCGANWGAN(K, data_dim=layout.DATA_DIM, width=WIDTH, n_critic=2),
    "wgan-gp": lambda: dcgan.DCGANWGAN(K, data_dim=layout.DATA_DIM, width=WIDTH, n_critic=2, gradient_penalty=10.0),
}


def test_image_layout_round_trip():
    images = np.random.default_rng(0).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    flat = layout.from_image(images)
    assert flat.shape == (3, 12288) and flat.dtype == np.uint8
    n, y, x, c = 2, 10, 37, 1
    assert flat[n, c * 4096 + y * 64 + x] == images[n, y, x, c]  # channels first
    np.testing.assert_array_equal(layout.to_image(flat), images)
    t = torch.as_tensor(images)
    np.testing.assert_array_equal(layout.from_image(t).numpy(), flat)
    np.testing.assert_array_equal(layout.to_image(layout.from_image(t)).numpy(), images)
    np.testing.assert_array_equal(layout.to_uint8(scaled(flat)), flat)  # [-1, 1] -> uint8 inverts the scaling
    with pytest.raises(ValueError, match="12288"):
        layout.to_image(np.zeros((2, 784)))


@pytest.mark.parametrize("name", list(ALL))
def test_shapes(name):
    seed_everything(0)
    model = ALL[name]().eval()
    with torch.no_grad():
        h = torch.randn(5, K)
        x = model.decode(h)
        assert x.shape == (5, 12288) and x.min() >= -1 and x.max() <= 1
        if hasattr(model, "encode"):
            codes = model.encode(x)
            assert codes.shape == (5, K)
            if name == "ae":
                assert codes.min() >= 0  # IML codes pass through a ReLU
        if hasattr(model, "critic"):
            assert model.critic(x).shape == (5, 1)


def test_the_dcgan_sizes():
    """The generator doubles 4 -> 64 in five transposed convolutions; the encoder mirrors it."""
    model = dcgan.DCGANAutoencoder(100, width=128)
    sizes = []
    hooks = [m.register_forward_hook(lambda m, i, o: sizes.append(tuple(o.shape[1:])))
             for m in model.decoder if isinstance(m, nn.ConvTranspose2d)]
    with torch.no_grad():
        model.eval().decode(torch.zeros(1, 100))
    assert sizes == [(1024, 4, 4), (512, 8, 8), (256, 16, 16), (128, 32, 32), (3, 64, 64)]
    for hook in hooks:
        hook.remove()
    convs = [m for m in model.encoder.modules() if isinstance(m, nn.Conv2d)]
    assert [(m.in_channels, m.out_channels) for m in convs] == [(3, 128), (128, 256), (256, 512), (512, 1024),
                                                                (1024, 100)]
    assert isinstance(model.encoder[-1], nn.ReLU)
    vae = dcgan.DCGANVAE(100, width=128)
    encoder_side = [vae.encoder, vae.mean_head, vae.log_var_head]
    assert not any(isinstance(m, nn.ReLU) for part in encoder_side for m in part.modules())  # VAE codes: no ReLU
    with pytest.raises(ValueError, match="12288"):
        dcgan.DCGANAutoencoder(100, data_dim=784)


@pytest.mark.parametrize("name", ["ae", "vae"])
def test_short_training_lowers_the_loss(name, faces, tmp_path):
    seed_everything(0)
    model = ALL[name]()
    # enough steps for BatchNorm's running statistics (used by decode in eval mode) to catch up
    settings = {"epochs": 30, "batch_size": 16, "lr": 2e-3, "betas": [0.5, 0.999], "seed": 0}
    history = train(model, faces, settings, tmp_path / "c.pt", torch.device("cpu"), pixel_range=(-1.0, 1.0))
    first, last = history[0]["loss"], history[-1]["loss"]
    assert last < (0.5 if name == "ae" else 0.8) * first, (first, last)
    if name == "ae":
        model.eval()
        with torch.no_grad():
            x = scaled(faces[:8])
            assert dcgan.F.mse_loss(model.reconstruct(x), x) < 0.5 * first


def test_vae_loss_is_the_gaussian_negative_elbo():
    seed_everything(0)
    model = dcgan.DCGANVAE(K, width=WIDTH, likelihood_std=0.3).eval()
    x = torch.rand(4, 12288) * 2 - 1
    torch.manual_seed(5)
    loss = model.training_loss(x)
    torch.manual_seed(5)
    mean, log_var = model.posterior(x)
    z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_var)
    log_lik = torch.distributions.Normal(model.decode(z), 0.3).log_prob(x).sum(1)
    kl = torch.distributions.kl_divergence(torch.distributions.Normal(mean, (0.5 * log_var).exp()),
                                           torch.distributions.Normal(0.0, 1.0)).sum(1)
    torch.testing.assert_close(loss, (kl - log_lik).mean(), rtol=1e-5, atol=1e-2)


@pytest.mark.parametrize("name", ["gan", "wgan", "wgan-gp"])
def test_gan_steps_run(name, faces, tmp_path):
    seed_everything(0)
    model = ALL[name]()
    settings = {"epochs": 2, "batch_size": 8, "lr": 2e-4, "betas": [0.5, 0.999], "seed": 0}
    history = train(model, faces[:16], settings, tmp_path / "c.pt", torch.device("cpu"), pixel_range=(-1.0, 1.0))
    assert all(np.isfinite(v) for h in history for k, v in h.items() if k != "epoch")
    losses = set(history[-1])
    if name == "gan":
        assert {"discriminator", "generator"} <= losses
        return
    assert int(model.critic_steps) == 4 and {"critic", "generator"} <= losses  # 2 epochs x 2 batches, n_critic 2
    norms = [m for m in model.critic.modules() if isinstance(m, (nn.BatchNorm2d, nn.GroupNorm))]
    if name == "wgan":
        assert all(p.abs().max() <= model.clip for p in model.critic.parameters())  # clipping holds
        assert norms and all(isinstance(m, nn.BatchNorm2d) for m in norms)
    else:  # the gradient penalty: no BatchNorm in the critic, and no clipping
        assert norms and all(isinstance(m, nn.GroupNorm) for m in norms)
        assert max(p.abs().max() for p in model.critic.parameters()) > model.clip
    reloaded = ALL[name]()
    reloaded.load_state_dict(model.state_dict())
    assert int(reloaded.critic_steps) == 4


def test_wgan_options():
    with pytest.raises(ValueError, match="BatchNorm"):
        dcgan.DCGANWGAN(K, width=WIDTH, gradient_penalty=10.0, critic_norm="batch")
    model = dcgan.DCGANWGAN(K, width=WIDTH, optimizer="rmsprop")
    optimizers = model.make_optimizers({"lr": 5e-5})
    assert all(isinstance(o, torch.optim.RMSprop) for o in optimizers.values())


def test_amp_flag_is_harmless_on_the_cpu(faces):
    """bf16 autocast is for CUDA only: on the CPU a step with amp set is exactly a step without it."""
    x = scaled(faces[:4])
    steps = {}
    for amp in (True, False):
        seed_everything(0)
        model = dcgan.DCGANAutoencoder(K, width=WIDTH, amp=amp)
        loss = model.train_step(x, model.make_optimizers({"lr": 1e-3}))["loss"]
        steps[amp] = loss, model.state_dict()
    assert steps[True][0].dtype == torch.float32 and steps[True][0] == steps[False][0]
    for name, value in steps[True][1].items():
        torch.testing.assert_close(value, steps[False][1][name], rtol=0, atol=0)


def test_one_gan_step_lowers_each_player_loss(faces, monkeypatch):
    """The discriminator step lowers its loss on the batch and the fakes it saw, and the generator
    step then lowers -log D(G(z)) under the updated discriminator; each reported loss is the one
    its player stepped on."""
    import copy

    import torch.nn.functional as F

    seed_everything(0)
    model = ALL["gan"]()
    x, z = scaled(faces[:8]), torch.randn(8, K, generator=torch.Generator().manual_seed(1))
    monkeypatch.setattr(model, "_noise", lambda batch: z)
    before = copy.deepcopy(model)
    losses = model.train_step(x, model.make_optimizers({"lr": 2e-4, "betas": [0.5, 0.999]}))
    with torch.no_grad():
        old_fake = before.generator(z)
        d_before = F.softplus(-before.critic(x)).mean() + F.softplus(before.critic(old_fake)).mean()
        d_after = F.softplus(-model.critic(x)).mean() + F.softplus(model.critic(old_fake)).mean()
        g_before = F.softplus(-model.critic(old_fake)).mean()
        g_after = F.softplus(-model.critic(model.generator(z))).mean()
    torch.testing.assert_close(losses["discriminator"], d_before)
    torch.testing.assert_close(losses["generator"], g_before)
    assert d_after < d_before and g_after < g_before
