"""The audio autoencoder (Sec. 4.2): three 1-D convolutions each side, filters of 200 samples,
one code per 800-sample chunk (the authors' code: channels 1 -> 64 -> 128 -> code, strides 2, 2, 1,
tanh; mirrored transposed convolutions)."""

from torch import nn
from torch.nn import functional as F

from iml.models.common import SingleLossModel


def _conv_length(length, kernel, stride):
    return (length - kernel) // stride + 1


class ConvAutoencoder(SingleLossModel):
    def __init__(self, latent_dim=80, data_dim=800, channels: tuple[int, int] = (64, 128), kernel: int = 200):
        super().__init__()
        self.latent_dim, self.data_dim = latent_dim, data_dim
        c1, c2 = channels
        l1 = _conv_length(data_dim, kernel, 2)
        l2 = _conv_length(l1, kernel, 2)
        if l2 < 1:
            raise ValueError(f"chunks of {data_dim} samples are too short for filters of {kernel}")
        # the last filter spans what is left, so each chunk gives one code vector
        self.encoder = nn.Sequential(
            nn.Conv1d(1, c1, kernel, stride=2), nn.Tanh(),
            nn.Conv1d(c1, c2, kernel, stride=2), nn.Tanh(),
            nn.Conv1d(c2, latent_dim, l2),
        )
        pad1 = l1 - ((l2 - 1) * 2 + kernel)  # output_padding that restores each length exactly
        pad0 = data_dim - ((l1 - 1) * 2 + kernel)
        self.decoder = nn.Sequential(
            nn.ConvTranspose1d(latent_dim, c2, l2), nn.Tanh(),
            nn.ConvTranspose1d(c2, c1, kernel, stride=2, output_padding=pad1), nn.Tanh(),
            nn.ConvTranspose1d(c1, 1, kernel, stride=2, output_padding=pad0),
        )

    def encode(self, x):
        return self.encoder(x[:, None, :])[:, :, 0]

    def decode(self, h):
        return self.decoder(h[:, :, None])[:, 0, :]

    def reconstruct(self, x):
        return self.decode(self.encode(x))

    def training_loss(self, x):
        return F.mse_loss(self.reconstruct(x), x)
