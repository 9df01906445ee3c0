"""LightningDataModule: load CoLA splits, tokenize once (no padding), pad per batch in the collator."""

from __future__ import annotations

from typing import Any

import datasets
import lightning as L
from torch.utils.data import DataLoader
from transformers import PreTrainedTokenizerBase

from model_training.data.cola import load_splits
from model_training.data.collate import PaddingCollator
from model_training.data.sampler import LengthGroupedBatchSampler


def per_process_batch_size(batch_size: int, world_size: int) -> int:
    """Each process's share of the global batch (training.batch_size), so that a recipe's batch, and the learning
    rate chosen for it, mean the same on one process and on N."""
    if world_size < 1:
        raise ValueError(f"world_size must be >= 1, got {world_size}")
    if batch_size % world_size:
        raise ValueError(
            f"training.batch_size={batch_size} is the global batch and must split evenly over {world_size} "
            f"processes: set training.batch_size to a multiple of {world_size} or change trainer.devices"
        )
    return batch_size // world_size


class ColaDataModule(L.LightningDataModule):
    """Train, validation and extra evaluation splits of CoLA, tokenized for one encoder.

    conf/data/<source>.yaml's `datamodule` node names this class and its settings; model_training.train builds it
    with hydra.utils.instantiate, adding the tokenizer and the splits (`load_config_splits`, extended by
    distillation).
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        splits: datasets.DatasetDict,
        batch_size: int = 32,
        eval_batch_size: int = 128,
        max_length: int = 64,
        padding: str = "dynamic",
        num_workers: int = 0,
        group_by_length: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.tokenizer = tokenizer
        self.raw = splits
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.max_length = max_length
        self.num_workers = num_workers
        self.group_by_length = group_by_length
        self.seed = seed
        pad_id = tokenizer.pad_token_id
        if pad_id is None:
            raise ValueError("the tokenizer has no pad token; set one before training")
        self.collator = PaddingCollator(pad_id, padding=padding, max_length=max_length)
        self.encoded = splits.map(self._encode, batched=True, desc="tokenize", remove_columns=["sentence"])

    @staticmethod
    def load_config_splits(data: Any) -> datasets.DatasetDict:
        """The splits the `data` config section names, with its limits applied."""
        splits = load_splits(
            data.source,
            data.train_file,
            data.validation_file,
            dict(data.extra_eval_files or {}),
            hub_id=data.hub_id,
            hub_config=data.hub_config,
        )
        for split, limit in (("train", data.limit_train), ("validation", data.limit_validation)):
            if limit is not None:
                splits[split] = splits[split].select(range(min(limit, len(splits[split]))))
        return splits

    def _encode(self, batch: dict[str, list[Any]]) -> dict[str, Any]:
        encoded = self.tokenizer(batch["sentence"], truncation=True, max_length=self.max_length, padding=False)
        return {"input_ids": encoded["input_ids"]}

    @property
    def eval_split_names(self) -> list[str]:
        """Validation first, then any extra evaluation splits in config order."""
        return [name for name in self.encoded if name != "train"]

    def sentences(self, split: str) -> list[str]:
        """Raw sentences of a split, in dataloader order."""
        return list(self.raw[split]["sentence"])

    def labels(self, split: str) -> list[int]:
        return list(self.raw[split]["label"])

    def train_dataloader(self) -> DataLoader[Any]:
        world_size = self.trainer.world_size if self.trainer is not None else 1
        batch_size = per_process_batch_size(self.batch_size, world_size)
        if not self.group_by_length or world_size > 1:  # DDP shards random batches with its DistributedSampler
            return self._loader("train", batch_size, shuffle=True)
        lengths = [len(ids) for ids in self.encoded["train"]["input_ids"]]
        return DataLoader(
            self.encoded["train"],
            batch_sampler=LengthGroupedBatchSampler(lengths, batch_size, seed=self.seed),
            collate_fn=self.collator,
            num_workers=self.num_workers,
        )

    def val_dataloader(self) -> DataLoader[Any]:
        return self._loader("validation", self.eval_batch_size, shuffle=False)

    def split_dataloader(self, split: str) -> DataLoader[Any]:
        """An evaluation loader for any split (validation or extra)."""
        return self._loader(split, self.eval_batch_size, shuffle=False)

    def _loader(self, split: str, batch_size: int, shuffle: bool) -> DataLoader[Any]:
        return DataLoader(
            self.encoded[split],
            batch_size=batch_size,
            shuffle=shuffle,
            collate_fn=self.collator,
            num_workers=self.num_workers,
        )
