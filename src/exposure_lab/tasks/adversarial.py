"""Adversarial paired objective (LMSPEC, Endo-LMSPEC): a multi-output generator trained with named, weighted
terms and a discriminator, by manual optimisation."""

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from torch import Tensor, nn

from exposure_lab.errors import ExposureLabError
from exposure_lab.losses.lmspec import LMSPECLoss, discriminator_loss
from exposure_lab.models.lmspec_inference import LMSPECInference
from exposure_lab.tasks.base import OptimizerFactory
from exposure_lab.tasks.paired import PairedRestoration


class AdversarialRestoration(PairedRestoration):
    """Trains an LMSPEC-style `net` (returning `output`, `levels`, `upsampled`) against `target` with the
    `LMSPECLoss` terms named in `losses` (name → weight) and, when `discriminator` is given and the
    adversarial weight is non-zero, a discriminator trained alongside.

    Each step updates D first (on the detached output), then G. The adversarial term and D are active when
    the `StagedTraining` callback's `training_stage.adversarial` says so (always, without a stage table); the
    callback also resets and halves the LRs of both optimizers. `forward` applies the LMSPEC inference
    protocol (`protocol`, `long_side`, `upsampling`, `pyramid_scales`, `fusion`, `pp`; see `LMSPECInference`),
    so eval, benchmark and predict all use it.
    """

    def __init__(
        self,
        net: nn.Module,
        discriminator: nn.Module | None = None,
        losses: Mapping[str, float] | None = None,
        optimizer: OptimizerFactory | None = None,
        discriminator_optimizer: OptimizerFactory | None = None,
        pyramid_mean_over: Literal["image", "level"] = "image",
        adversarial_gradient: bool = True,
        protocol: str = "resize",
        long_side: int = 512,
        upsampling: str = "local_affine",
        pyramid_scales: Sequence[float] = (1.0, 1.0, 1.0, 1.0),
        fusion: bool = False,
        pp: bool = False,
        train_metrics: Sequence[str] = ("psnr", "ssim"),
        tile_size: int | None = None,
        tile_overlap: int = 32,
    ) -> None:
        super().__init__(
            net=net,
            losses={},
            optimizer=optimizer,
            train_metrics=train_metrics,
            tile_size=tile_size,
            tile_overlap=tile_overlap,
        )
        self.automatic_optimization = False
        self.objective = LMSPECLoss(losses or {}, pyramid_mean_over, adversarial_gradient)
        if discriminator is None and self.objective.uses_adversarial:
            raise ExposureLabError("model.losses.adversarial is non-zero but model.discriminator is null")
        self.discriminator = discriminator
        self.discriminator_optimizer_factory = discriminator_optimizer
        self.inference = LMSPECInference(protocol, long_side, upsampling, tuple(pyramid_scales), fusion, pp)

    def describe_inference(self) -> str:
        """The inference protocol, for results tables."""
        return self.inference.describe()

    def forward(self, x: Tensor) -> Tensor:
        """Full-image enhancement (B,3,H,W) → (B,3,H,W) in [0,1] under the LMSPEC inference protocol."""
        return self.inference(self.net, x, tile_size=self.tile_size, tile_overlap=self.tile_overlap)

    @property
    def adversarial_active(self) -> bool:
        """Whether this epoch trains D and adds the adversarial term."""
        stage = getattr(self, "training_stage", None)
        uses = self.discriminator is not None and self.objective.uses_adversarial
        return uses and (stage is None or stage.adversarial)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        optimizers = self.optimizers()
        g_optimizer = optimizers[0] if isinstance(optimizers, list) else optimizers
        inputs, target = batch["input"], batch["target"]
        batch_size = inputs.shape[0]
        outputs = self.net(inputs)
        pred = outputs["output"]
        active = self.adversarial_active
        if active:
            d_optimizer = optimizers[1]
            self.toggle_optimizer(d_optimizer)
            d_loss = discriminator_loss(self.discriminator, target, pred)
            d_optimizer.zero_grad()
            self.manual_backward(d_loss)
            d_optimizer.step()
            self.untoggle_optimizer(d_optimizer)
            self.log(
                "train/discriminator", d_loss.detach(), on_step=False, on_epoch=True, batch_size=batch_size
            )
        self.toggle_optimizer(g_optimizer)
        total, terms = self.objective(
            outputs, target, self.net.pyramid, self.discriminator if active else None
        )
        g_optimizer.zero_grad()
        self.manual_backward(total)
        g_optimizer.step()
        self.untoggle_optimizer(g_optimizer)
        self.log_terms("train", total, terms, batch_size)
        self.log(
            "train/adversarial_active", float(active), on_step=False, on_epoch=True, batch_size=batch_size
        )
        self.log_train_metrics(pred, target)
        return total.detach()

    def configure_optimizers(self) -> Any:
        if self.optimizer_factory is None:
            return None
        optimizers = [self.optimizer_factory(params=list(self.net.parameters()))]
        if self.discriminator is not None and self.objective.uses_adversarial:
            factory = self.discriminator_optimizer_factory or self.optimizer_factory
            optimizers.append(factory(params=list(self.discriminator.parameters())))
        return optimizers
