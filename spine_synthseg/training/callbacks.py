"""Lightning callbacks of this project (the others come from Lightning, all listed in conf/callbacks/)."""

from __future__ import annotations

import time

from lightning.pytorch.callbacks import Callback


class ThroughputMonitor(Callback):
    """Training images per second (wall clock, generation + forward + backward), after `skip` warm-up steps."""

    def __init__(self, skip: int = 5):
        self.skip, self.start, self.images = skip, None, 0

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.skip:
            self.start, self.images = time.perf_counter(), 0
        elif self.start is not None:
            self.images += batch["image"].shape[0]

    @property
    def images_per_s(self) -> float | None:
        if self.start is None or not self.images:
            return None
        return self.images / (time.perf_counter() - self.start)
