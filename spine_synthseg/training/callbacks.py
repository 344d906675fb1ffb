"""Lightning callbacks of this project (the others come from Lightning, all listed in conf/callbacks/)."""

from __future__ import annotations

import logging
import time

from lightning.pytorch.callbacks import Callback

log = logging.getLogger(__name__)


class ThroughputMonitor(Callback):
    """Training images per second (wall clock, generation + forward + backward), after `skip` warm-up steps;
    logged once `report_after` steps later (the speed of this machine, at the start of the run) and at the end."""

    def __init__(self, skip: int = 5, report_after: int = 20):
        self.skip, self.report_after, self.start, self.images = skip, report_after, None, 0

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.skip:
            self.start, self.images = time.perf_counter(), 0
        elif self.start is not None:
            self.images += batch["image"].shape[0]
            if trainer.global_step == self.skip + self.report_after:
                log.info("training at %.1f images/s (steps %d-%d, %s)", self.images_per_s, self.skip,
                         trainer.global_step, trainer.precision)

    def on_train_end(self, trainer, module) -> None:
        if self.images_per_s is not None:
            log.info("trained at %.1f images/s over %d images", self.images_per_s, self.images)

    @property
    def images_per_s(self) -> float | None:
        if self.start is None or not self.images:
            return None
        return self.images / (time.perf_counter() - self.start)
