"""Zero-reference objective (Zero-DCE, Zero-DCE++, SGZ): curve estimation trained without reference images."""

from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn

from exposure_lab.errors import ExposureLabError
from exposure_lab.losses.zero_reference import ZeroReferenceLoss
from exposure_lab.metrics.no_reference import NoReferenceSuite
from exposure_lab.tasks.base import OptimizerFactory, SchedulerFactory
from exposure_lab.tasks.paired import PairedRestoration


class ZeroReferenceEnhancement(PairedRestoration):
    """Trains a curve net `net` (x → (enhanced, curve maps)) with the zero-reference losses; no target needed.

    Training and validation batches need only `input`; `val/loss` is the weighted zero-reference total (the
    checkpoint monitor), and validation images without a target are also scored with the no-reference
    measures (`val/brightness`, …). With targets (paired data) validation and testing add PSNR/SSIM… exactly
    as `PairedRestoration`, so an imported or trained curve net is evaluated like any model. The forward is
    the net's own inference (its `scale_factor`), clamped to [0, 1].

    With a non-zero `semantic` loss weight, SGZ's segmentation net (`SemanticFPN`, ImageNet ResNet-50 from
    `semantic.backbone_weights` or the torch hub cache) is built when fitting starts, frozen in eval mode and
    kept out of the checkpoint and the optimizer; gradients flow through it into the enhanced image.
    """

    def __init__(
        self,
        net: nn.Module,
        losses: Mapping[str, float],
        spatial_patch: int = 4,
        spatial_diagonals: bool = False,
        exposure_patch: int = 16,
        exposure_level: float = 0.6,
        semantic: Mapping[str, Any] | None = None,
        optimizer: OptimizerFactory | None = None,
        scheduler: SchedulerFactory | None = None,
        scheduler_monitor: str = "val/loss",
        scheduler_interval: str = "epoch",
        tile_size: int | None = None,
        tile_overlap: int = 32,
    ) -> None:
        super().__init__(
            net,
            optimizer=optimizer,
            scheduler=scheduler,
            scheduler_monitor=scheduler_monitor,
            scheduler_interval=scheduler_interval,
            train_metrics=(),
            tile_size=tile_size,
            tile_overlap=tile_overlap,
        )
        self.zero_reference_loss = ZeroReferenceLoss(
            losses,
            spatial_patch=spatial_patch,
            spatial_diagonals=spatial_diagonals,
            exposure_patch=exposure_patch,
            exposure_level=exposure_level,
        )
        self.semantic_options = {"num_classes": 21, "backbone_weights": None, **(semantic or {})}
        self.no_reference = NoReferenceSuite(exposure_patch=exposure_patch, exposure_level=exposure_level)
        # Frozen loss network: outside the module tree, so never in checkpoints, optimizers or DDP buckets.
        self.__dict__["semantic_net"] = None

    @property
    def uses_semantic_loss(self) -> bool:
        """Whether the SGZ semantic term is part of the objective (non-zero weight)."""
        return "semantic" in self.zero_reference_loss.weights

    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None)
        kind = getattr(datamodule, "target_kind", None)
        if kind not in (None, "image"):
            raise ExposureLabError(
                f"{type(self).__name__} enhances images; data {getattr(datamodule, 'name', '?')!r} has "
                f"{kind} targets; choose an unpaired (data=unpaired) or paired data set"
            )
        if stage == "fit" and self.uses_semantic_loss and self.semantic_net is None:
            self.set_semantic_net(self._pretrained_semantic_net())

    def _pretrained_semantic_net(self) -> nn.Module:
        from exposure_lab.models.semantic_fpn import SemanticFPN

        return SemanticFPN.pretrained(
            self.semantic_options["num_classes"], self.semantic_options["backbone_weights"]
        )

    def set_semantic_net(self, semantic_net: nn.Module) -> None:
        """Use `semantic_net` ((B,3,H,W) → logits) for the semantic term, frozen and in eval mode."""
        self.__dict__["semantic_net"] = semantic_net.eval().requires_grad_(False)

    def on_fit_start(self) -> None:
        if self.semantic_net is not None:
            self.semantic_net.to(self.device)

    def train(self, mode: bool = True) -> "ZeroReferenceEnhancement":
        super().train(mode)
        if self.semantic_net is not None:
            self.semantic_net.eval()
        return self

    def zero_reference_terms(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Run the net on low-light `x` (B,3,H,W) in [0,1] → (weighted total, {term: unweighted value})."""
        enhanced, curves = self.net(x)
        return self.zero_reference_loss(x, enhanced, curves, self.semantic_net)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        total, terms = self.zero_reference_terms(batch["input"])
        self.log_terms("train", total, terms, batch["input"].shape[0])
        return total

    def on_validation_start(self) -> None:
        if getattr(getattr(self.trainer, "datamodule", None), "target_kind", None) == "image":
            super().on_validation_start()

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        x = batch["input"]
        batch_size = x.shape[0]
        total, terms = self.zero_reference_terms(x)
        self.log_terms("val", total, terms, batch_size)
        if "target" in batch:
            self._score_and_log("val", batch)
            return
        for name, values in self.no_reference(self(x), x).items():
            self.log(f"val/{name}", values.mean(), batch_size=batch_size, sync_dist=True)
