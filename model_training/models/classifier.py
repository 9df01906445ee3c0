"""LightningModules: a pretrained encoder with a classification head over the data config's labels, fine-tuned on
CoLA (conf/module/classifier.yaml), and the same module trained by distillation (conf/module/distilled.yaml)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightning as L
import torch
from lightning.pytorch.plugins.precision import MixedPrecision
from transformers import AutoConfig, AutoModelForSequenceClassification, get_linear_schedule_with_warmup

from model_training.distillation.loss import distillation_loss, feature_loss
from model_training.distributed import interleave_shards
from model_training.models.metrics import classification_metrics, confusion_matrix
from model_training.models.output_layer import output_layer

NO_DECAY = ("bias", "LayerNorm.weight", "layer_norm.weight", "LayerNorm.bias")


class AcceptabilityClassifier(L.LightningModule):
    """AutoModelForSequenceClassification with AdamW and warmup + linear decay.

    `labels` names the classes in class-id order (the data config's `labels`; saved as the model's id2label);
    without them the head is 2-way with the library's generic names.
    """

    def __init__(
        self,
        model_dir: str,
        lr: float = 5e-5,
        weight_decay: float = 0.01,
        warmup_ratio: float = 0.1,
        dropout: float | None = None,
        labels: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        overrides: dict[str, Any] = {}
        if dropout is not None:
            overrides = {"hidden_dropout_prob": dropout, "attention_probs_dropout_prob": dropout}
        if labels is not None:
            id2label = dict(enumerate(str(name) for name in labels))
            overrides |= {"id2label": id2label, "label2id": {name: i for i, name in id2label.items()}}
        num_labels = 2 if labels is None else len(labels)
        config = AutoConfig.from_pretrained(model_dir, num_labels=num_labels, **overrides)
        self.model = AutoModelForSequenceClassification.from_pretrained(model_dir, config=config)
        self.model.train()  # from_pretrained returns eval mode; see on_train_epoch_start
        self.val_metrics = classification_metrics("val")
        self.val_confusion = confusion_matrix()
        self._val_probs: list[torch.Tensor] = []
        self.last_val_probs: torch.Tensor | None = None
        self.last_val_confusion: torch.Tensor | None = None

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Logits of shape (batch, 2)."""
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits

    def on_train_epoch_start(self) -> None:
        # from_pretrained returns the model in eval mode and Lightning does not flip submodules back:
        # without this, dropout is silently off during fine-tuning.
        self.model.train()

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        logits = self(batch["input_ids"], batch["attention_mask"])
        loss = torch.nn.functional.cross_entropy(logits, batch["labels"])
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=len(logits), sync_dist=True)
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        logits = self(batch["input_ids"], batch["attention_mask"])
        loss = torch.nn.functional.cross_entropy(logits, batch["labels"])
        probs = logits.softmax(dim=-1)[:, 1]
        self.val_metrics.update(probs, batch["labels"])
        self.val_confusion.update(probs, batch["labels"])
        self._val_probs.append(probs.detach().float().cpu())
        self.log("val/loss", loss, on_epoch=True, batch_size=len(logits), sync_dist=True)

    def on_validation_epoch_end(self) -> None:
        # torchmetrics gathers every process's state before computing, so under DDP these are whole-set values,
        # equal on all ranks (sync_dist then averages equal numbers; it only keeps Lightning from warning).
        confusion = self.val_confusion.compute()
        self.log_dict(self.val_metrics.compute(), prog_bar=True, sync_dist=True)
        self.log("val/examples", confusion.sum().float(), sync_dist=True)  # 1 rank's shard would show here
        self.last_val_confusion = confusion.cpu()
        self.last_val_probs = self._gathered_val_probs()
        self.val_metrics.reset()
        self.val_confusion.reset()
        self._val_probs.clear()

    def _gathered_val_probs(self) -> torch.Tensor | None:
        """This epoch's validation P(class 1) for the whole set in dataset order (all processes' shards)."""
        probs = torch.cat(self._val_probs) if self._val_probs else None
        if probs is None or self.trainer.world_size == 1:
            return probs
        size = len(self.trainer.val_dataloaders.dataset)  # type: ignore[union-attr]
        gathered = self.all_gather(probs)
        assert isinstance(gathered, torch.Tensor)  # one tensor in, one (world_size, per_rank) tensor out
        return interleave_shards(gathered.cpu(), size)

    def trained_parameters(self) -> list[tuple[str, torch.nn.Parameter]]:
        """The parameters the optimiser updates, by name (weight decay depends on the name)."""
        return list(self.model.named_parameters())

    def configure_optimizers(self) -> Any:
        named = self.trained_parameters()
        groups = [
            {
                "params": [p for n, p in named if not any(nd in n for nd in NO_DECAY)],
                "weight_decay": self.hparams["weight_decay"],
            },
            {"params": [p for n, p in named if any(nd in n for nd in NO_DECAY)], "weight_decay": 0.0},
        ]
        # Fused AdamW is much faster on CPU, but it unscales gradients itself, so Lightning cannot clip them
        # under fp16 mixed precision (GradScaler): use it only when no scaler is involved.
        scaler = getattr(self.trainer.precision_plugin, "scaler", None)
        optimizer = torch.optim.AdamW(groups, lr=self.hparams["lr"], fused=scaler is None)
        total = int(self.trainer.estimated_stepping_batches)
        scheduler = get_linear_schedule_with_warmup(  # type: ignore[no-untyped-call]
            optimizer, int(self.hparams["warmup_ratio"] * total), total
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def configure_gradient_clipping(
        self,
        optimizer: torch.optim.Optimizer,
        gradient_clip_val: int | float | None = None,
        gradient_clip_algorithm: str | None = None,
    ) -> None:
        # Lightning's autocast plugin refuses to clip for a fused optimizer because under fp16 the gradients are
        # still scaled. bf16 autocast has no scaler: the gradients are true ones and clipping them here is exact.
        plugin = self.trainer.precision_plugin
        if gradient_clip_val and isinstance(plugin, MixedPrecision) and plugin.scaler is None:
            params = [p for group in optimizer.param_groups for p in group["params"]]
            if gradient_clip_algorithm == "value":
                torch.nn.utils.clip_grad_value_(params, gradient_clip_val)
            else:
                torch.nn.utils.clip_grad_norm_(params, gradient_clip_val)
            return
        super().configure_gradient_clipping(optimizer, gradient_clip_val, gradient_clip_algorithm)


@torch.no_grad()
def predict_probabilities(model: torch.nn.Module, loader: Any) -> torch.Tensor:
    """P(class 1), the positive class (data.labels[1]), for every example of a loader, in order, in eval mode."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    chunks = [
        model(batch["input_ids"].to(device), batch["attention_mask"].to(device)).softmax(-1)[:, 1].cpu()
        for batch in loader
    ]
    model.train(was_training)
    return torch.cat(chunks)


class DistilledClassifier(AcceptabilityClassifier):
    """The same classifier trained on teacher soft targets plus gold labels (model_training.distillation.loss).

    Only the training loss differs: it reads the batch's `teacher_logits`, softened by `temperature`, weighted by
    `alpha` against the gold labels' cross-entropy. With `feature_weight` > 0 it also matches the teacher's
    classifier-head features (the batch's `teacher_features`): the input of the student's output layer, through a
    linear projection to the teacher's width (`teacher_features`: {size, variance}, set by model_training.distill),
    is pulled towards them. The projection exists only for training: the saved model is the encoder and its head.
    The other arguments are the classifier's.
    """

    def __init__(
        self,
        model_dir: str,
        *,
        temperature: float,
        alpha: float,
        feature_weight: float = 0.0,
        teacher_features: dict[str, float] | None = None,
        **classifier: Any,
    ) -> None:
        super().__init__(model_dir, **classifier)
        self.feature_projection: torch.nn.Linear | None = None
        self._student_features: list[torch.Tensor] = []
        if feature_weight > 0:
            if not teacher_features:
                raise ValueError("feature_weight > 0 needs teacher_features {size, variance} (model_training.distill)")
            self.feature_projection = torch.nn.Linear(self.model.config.hidden_size, int(teacher_features["size"]))
            output_layer(self.model).register_forward_pre_hook(self._keep_features)

    def _keep_features(self, module: torch.nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        if self.training:
            self._student_features.append(args[0])

    def trained_parameters(self) -> list[tuple[str, torch.nn.Parameter]]:
        projection = self.feature_projection
        extra = [] if projection is None else [(f"feature_projection.{n}", p) for n, p in projection.named_parameters()]
        return super().trained_parameters() + extra

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        self._student_features.clear()
        logits = self(batch["input_ids"], batch["attention_mask"])
        parts = distillation_loss(
            logits, batch["teacher_logits"], batch["labels"], self.hparams["temperature"], self.hparams["alpha"]
        )
        size = len(logits)
        loss = parts["loss"]
        if self.feature_projection is not None:
            matched = feature_loss(
                self.feature_projection(self._student_features.pop()),
                batch["teacher_features"],
                float(self.hparams["teacher_features"]["variance"]),
            )
            loss = loss + self.hparams["feature_weight"] * matched
            self.log("train/loss_features", matched, on_step=False, on_epoch=True, batch_size=size, sync_dist=True)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=size, sync_dist=True)
        self.log("train/loss_soft", parts["soft"], on_step=False, on_epoch=True, batch_size=size, sync_dist=True)
        self.log("train/loss_hard", parts["hard"], on_step=False, on_epoch=True, batch_size=size, sync_dist=True)
        return loss
