"""Released nets that this project runs and scores but cannot train (their objective needs other data)."""

from torch import nn

from exposure_lab.errors import ExposureLabError
from exposure_lab.tasks.paired import PairedRestoration


class InferenceOnlyRestoration(PairedRestoration):
    """Scores and runs `net` like `PairedRestoration` (paired or no-reference test data); fitting stops at
    once with `reason`, the one line that says what the method's objective would need."""

    def __init__(
        self, net: nn.Module, reason: str, tile_size: int | None = None, tile_overlap: int = 32
    ) -> None:
        super().__init__(net, losses={}, tile_size=tile_size, tile_overlap=tile_overlap)
        self.reason = reason

    def setup(self, stage: str) -> None:
        if stage == "fit":
            raise ExposureLabError(f"{type(self.net).__name__} cannot be trained here: {self.reason}")
        super().setup(stage)
