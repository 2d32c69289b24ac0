"""What the training loop asks of a model: its optimisers and one training step."""

import torch
from torch import nn


def adam(params, settings):
    return torch.optim.Adam(params, lr=settings["lr"], betas=tuple(settings.get("betas", (0.9, 0.999))))


class SingleLossModel(nn.Module):
    """A model trained by minimising one loss, `training_loss(batch)`, with one Adam optimiser.
    With `amp` set, the loss is computed under bf16 autocast on CUDA."""

    amp = False

    def make_optimizers(self, settings):
        return {"model": adam(self.parameters(), settings)}

    def train_step(self, batch, optimizers):
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.amp and batch.is_cuda):
            loss = self.training_loss(batch)
        optimizer = optimizers["model"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {"loss": loss.detach()}
