"""Fine-tune a sentence-transformers embedder on (query, positive, hard negative) triplets.

MultipleNegativesRankingLoss: each query must score its positive above its hard negative and
above every other passage in the batch. Defaults (3 epochs, learning rate 5e-5 with 10 %
warm-up, no duplicate texts in a batch) were chosen on zaragoza's feedback simulation
(benchmarks/feedback_loop.py): a few hundred pairs adapt the model to the company's language
without losing anything on the general-domain guard set (the gate checks that every time).
Runs on the GPU when there is one, else on the CPU (bfloat16 autocast only where the CPU
has native bf16, as for embedding).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..embedding.precision import Precision, choose_precision, default_device
from ..errors import KnowhereError
from .training_set import Triplet


@dataclass(frozen=True)
class TrainParams:
    epochs: int = 3
    learning_rate: float = 5e-5
    batch_size: int = 32
    warmup_ratio: float = 0.1
    seed: int = 13
    precision: Precision = "auto"  # auto: bf16 on a GPU or a CPU with native bf16


@dataclass(frozen=True)
class TrainRun:
    output: Path
    triplets: int
    epochs: int
    steps: int
    seconds: float
    device: str
    precision: str

    @property
    def seconds_per_1k(self) -> float:
        """Training seconds per 1,000 triplets and epoch."""
        return self.seconds * 1000 / max(1, self.triplets * self.epochs)

    def as_dict(self) -> dict[str, object]:
        return {
            "output": str(self.output),
            "triplets": self.triplets,
            "epochs": self.epochs,
            "steps": self.steps,
            "seconds": round(self.seconds, 2),
            "seconds_per_1k_triplets_per_epoch": round(self.seconds_per_1k, 2),
            "device": self.device,
            "precision": self.precision,
        }


def finetune(
    base: str,
    triplets: list[Triplet],
    output: Path,
    params: TrainParams | None = None,
    device: str | None = None,
) -> TrainRun:
    """Train from model `base` (a path or hub name) and save the result to `output`."""
    if not triplets:
        raise KnowhereError("no training triplets: nothing to fine-tune on")
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.sentence_transformer.training_args import BatchSamplers

    params = params or TrainParams()
    device = device or default_device()
    precision = choose_precision(params.precision, device)
    model = SentenceTransformer(base, device=device)
    dataset = Dataset.from_dict(
        {
            "anchor": [t.anchor for t in triplets],
            "positive": [t.positive for t in triplets],
            "negative": [t.negative for t in triplets],
        }
    )
    batch_size = max(2, min(params.batch_size, len(triplets)))
    with tempfile.TemporaryDirectory() as scratch:
        args = SentenceTransformerTrainingArguments(
            output_dir=scratch,
            num_train_epochs=params.epochs,
            per_device_train_batch_size=batch_size,
            learning_rate=params.learning_rate,
            warmup_steps=params.warmup_ratio,  # a float: a fraction of all steps
            batch_sampler=BatchSamplers.NO_DUPLICATES,
            bf16=precision == "bf16",
            use_cpu=device == "cpu",
            save_strategy="no",
            logging_strategy="no",
            report_to="none",
            seed=params.seed,
            disable_tqdm=True,
            dataloader_num_workers=0,
        )
        trainer = SentenceTransformerTrainer(
            model=model,
            args=args,
            train_dataset=dataset,
            loss=MultipleNegativesRankingLoss(model),
        )
        started = time.perf_counter()
        result = trainer.train()
        seconds = time.perf_counter() - started
    output.parent.mkdir(parents=True, exist_ok=True)
    model.save(str(output))
    return TrainRun(
        output, len(triplets), params.epochs, int(result.global_step), seconds, device, precision
    )
