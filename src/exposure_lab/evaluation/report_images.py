"""Image comparison panels for reports: input | each model's output | reference (| assessor heatmaps) for a
few test images, with each model's per-image scores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import lightning as L
import torch

from exposure_lab.evaluation.report import ViewerImage
from exposure_lab.evaluation.report_plots import encode_panel
from exposure_lab.prediction.exposure_maps import heatmap


def spread_indices(count: int, length: int) -> list[int]:
    """`count` indices spread evenly over `length` items (all of them when there are fewer)."""
    if length <= 0 or count <= 0:
        return []
    if count >= length:
        return list(range(length))
    return sorted({round(i * (length - 1) / (count - 1)) for i in range(count)}) if count > 1 else [0]


def _references(sample: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    if "target" in sample and sample["target"] is not None and sample["target"].shape[0] == 3:
        return {"reference": sample["target"]}
    experts = sample.get("experts") or {}
    return {f"reference (expert {key})": image for key, image in sorted(experts.items())}


def viewer_images(
    tasks: Sequence[tuple[str, L.LightningModule]],
    datamodule: L.LightningDataModule,
    per_image: Sequence[Mapping[str, Any]],
    metrics: Sequence[str],
    count: int = 6,
    max_side: int = 512,
    assessor: L.LightningModule | None = None,
) -> list[ViewerImage]:
    """Panels of `count` test images spread over the split (models run on CPU under inference mode), with
    the `metrics` of each model's per-image record; `assessor` adds its heatmap of every panel."""
    datamodule.setup("test")
    dataset = datamodule.test_dataloader().dataset
    scores = {(r["model"], r["name"]): r for r in per_image}
    images = []
    with torch.inference_mode():
        for index in spread_indices(count, len(dataset)):
            sample = dataset[index]
            x = sample["input"].float()
            outputs = {"input": x}
            for name, task in tasks:
                device = next(iter(task.parameters()), torch.empty(0)).device
                outputs[name] = task.eval()(x[None].to(device))[0].clamp(0, 1).cpu()
            outputs.update(_references(sample))
            panels = {label: encode_panel(image, max_side) for label, image in outputs.items()}
            if assessor is not None:
                for label, image in list(outputs.items()):
                    residual = assessor.eval()(image[None])[0]
                    panels[f"heatmap: {label}"] = encode_panel(heatmap(residual), max_side)
            image_scores = {
                name: {m: scores[(name, sample["name"])].get(m) for m in metrics}
                for name, _ in tasks
                if (name, sample["name"]) in scores
            }
            images.append(ViewerImage(sample["name"], panels, image_scores))
    return images
