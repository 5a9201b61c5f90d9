"""Learning-rate schedules that need more than one torch scheduler, as factories for `model.scheduler`."""

from torch.optim import Optimizer
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR


def warmup_cosine(
    optimizer: Optimizer, warmup_epochs: int, max_epochs: int, eta_min: float = 1e-6
) -> SequentialLR:
    """Linear warm-up from lr/warmup_epochs to lr over `warmup_epochs` epochs, then cosine annealing to
    `eta_min` at `max_epochs` (MIRNet's repository recipe; step once per epoch)."""
    if not 0 < warmup_epochs < max_epochs:
        raise ValueError(
            f"warmup_cosine: need 0 < warmup_epochs < max_epochs, got {warmup_epochs}, {max_epochs}"
        )
    warmup = LinearLR(optimizer, start_factor=1 / warmup_epochs, total_iters=warmup_epochs)
    cosine = CosineAnnealingLR(optimizer, T_max=max_epochs - warmup_epochs, eta_min=eta_min)
    return SequentialLR(optimizer, [warmup, cosine], milestones=[warmup_epochs])
