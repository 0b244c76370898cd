"""The student network in torch, its distillation losses and the training loop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lexdense.errors import InputError

LOSSES = ("cosine", "gram-kl", "cosine+gram-kl", "cosine+contrastive")


class Student(nn.Module):
    """Torch twin of :class:`lexdense.LexDense`'s forward pass (same tensors, same maths)."""

    def __init__(self, n_rows: int, n_buckets: int, d_embed: int, d_hidden: int, d_out: int,
                 feature_weights: bool = False):
        super().__init__()
        self.bag = nn.EmbeddingBag(n_rows + n_buckets, d_embed, mode="sum")
        # A learned weight per feature (a trainable IDF, apart from the row's direction);
        # export multiplies it into the rows, so inference pays nothing for it.
        self.feature_weight = nn.Parameter(torch.ones(n_rows + n_buckets)) if feature_weights else None
        self.hidden = nn.Linear(d_embed, d_hidden)
        self.back = nn.Linear(d_hidden, d_embed, bias=False)
        self.out = nn.Linear(d_embed, d_out)
        nn.init.zeros_(self.back.weight)
        self.n_rows = n_rows

    def forward(self, ids, offsets, weights):
        if self.feature_weight is not None:
            weights = weights * self.feature_weight[ids]
        x = F.normalize(self.bag(ids, offsets, per_sample_weights=weights), dim=-1, eps=1e-12)
        x = x + self.back(torch.relu(self.hidden(x)))
        return self.out(x)


def gram_kl_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float = 3.0):
    """Luxical's loss: KL between row-softmaxed similarity matrices, diagonal removed.

    Dimensions of student and teacher need not match.
    """
    s = F.normalize(student, dim=-1)
    t = F.normalize(teacher, dim=-1)
    n = s.shape[0]
    mask = torch.eye(n, dtype=torch.bool)
    gs = (s @ s.T / temperature).masked_fill(mask, -1e9)
    gt = (t @ t.T / temperature).masked_fill(mask, -1e9)
    return temperature**2 * F.kl_div(F.log_softmax(gs, -1), F.log_softmax(gt, -1),
                                      log_target=True, reduction="batchmean")


def cosine_loss(student: torch.Tensor, teacher: torch.Tensor):
    return 1.0 - F.cosine_similarity(student, teacher, dim=-1).mean()


def contrastive_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float = 0.05):
    """In-batch InfoNCE: each student vector must pick its own teacher vector among the batch's.

    Cosine alone matches directions on average; this term asks for what retrieval needs,
    that passages stay distinguishable from one another.
    """
    s = F.normalize(student, dim=-1)
    t = F.normalize(teacher, dim=-1)
    logits = s @ t.T / temperature
    return F.cross_entropy(logits, torch.arange(s.shape[0]))


def distillation_loss(name: str, student: torch.Tensor, teacher: torch.Tensor):
    if name == "cosine":
        return cosine_loss(student, teacher)
    if name == "gram-kl":
        return gram_kl_loss(student, teacher)
    if name == "cosine+gram-kl":
        return cosine_loss(student, teacher) + gram_kl_loss(student, teacher)
    if name == "cosine+contrastive":
        return cosine_loss(student, teacher) + 0.1 * contrastive_loss(student, teacher)
    raise InputError(f"unknown loss '{name}': expected one of {', '.join(LOSSES)}")


@dataclass
class Features:
    """CSR features of the training texts (see Featurizer.feature_lists)."""

    ids: np.ndarray
    weights: np.ndarray
    offsets: np.ndarray

    def batch(self, rows: np.ndarray):
        starts, ends = self.offsets[rows], self.offsets[rows + 1]
        lengths = ends - starts
        bag_offsets = np.zeros(len(rows), dtype=np.int64)
        np.cumsum(lengths[:-1], out=bag_offsets[1:])
        index = np.concatenate([np.arange(s, e) for s, e in zip(starts, ends)]) if len(rows) else []
        index = np.asarray(index, dtype=np.int64)
        return (torch.from_numpy(self.ids[index]), torch.from_numpy(bag_offsets),
                torch.from_numpy(self.weights[index]))


def wsd_factor(step: int, total: int, warmup: float = 0.05, decay: float = 0.3) -> float:
    """Warmup-stable-decay learning-rate multiplier."""
    warm = max(1, int(total * warmup))
    decay_start = int(total * (1 - decay))
    if step < warm:
        return (step + 1) / warm
    if step < decay_start:
        return 1.0
    return max(0.0, (total - step) / max(1, total - decay_start))


def train(
    model: Student,
    features: Features,
    targets: np.ndarray,
    *,
    loss: str = "cosine",
    epochs: int = 8,
    batch_size: int = 256,
    lr: float = 3e-3,
    table_lr: float | None = None,
    weight_decay: float = 0.0,
    seed: int = 0,
    validation: tuple[Features, np.ndarray] | None = None,
    on_step: Callable[[int, int, float], None] | None = None,
) -> list[dict]:
    """Train ``model`` so its outputs match ``targets`` (n, d_out); returns per-epoch logs."""
    if loss not in LOSSES:
        raise InputError(f"unknown loss '{loss}': expected one of {', '.join(LOSSES)}")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    n = targets.shape[0]
    steps_per_epoch = max(1, n // batch_size)
    total = steps_per_epoch * epochs
    table = [model.bag.weight] + ([model.feature_weight] if model.feature_weight is not None else [])
    dense = [p for name, p in model.named_parameters() if not name.startswith(("bag.", "feature_weight"))]
    optimizer = torch.optim.AdamW(
        [{"params": table, "lr": table_lr or lr, "weight_decay": 0.0},
         {"params": dense, "lr": lr, "weight_decay": weight_decay}],
        betas=(0.9, 0.98),
    )
    base = [g["lr"] for g in optimizer.param_groups]
    target_tensor = torch.from_numpy(np.ascontiguousarray(targets, dtype=np.float32))
    logs, step = [], 0
    for epoch in range(epochs):
        model.train()
        order = rng.permutation(n)
        running = 0.0
        for b in range(steps_per_epoch):
            rows = order[b * batch_size : (b + 1) * batch_size]
            for group, lr0 in zip(optimizer.param_groups, base):
                group["lr"] = lr0 * wsd_factor(step, total)
            ids, offsets, weights = features.batch(rows)
            output = model(ids, offsets, weights)
            value = distillation_loss(loss, output, target_tensor[rows])
            optimizer.zero_grad(set_to_none=True)
            value.backward()
            optimizer.step()
            running += float(value.detach())
            step += 1
            if on_step:
                on_step(step, total, running / (b + 1))
        log = {"epoch": epoch + 1, "train_loss": running / steps_per_epoch}
        if validation is not None:
            log["validation_cosine"] = mean_cosine(model, *validation)
        logs.append(log)
    return logs


@torch.no_grad()
def mean_cosine(model: Student, features: Features, targets: np.ndarray, batch_size: int = 2048):
    model.eval()
    total = 0.0
    for start in range(0, targets.shape[0], batch_size):
        rows = np.arange(start, min(start + batch_size, targets.shape[0]))
        output = model(*features.batch(rows))
        total += float(F.cosine_similarity(output, torch.from_numpy(targets[rows]), dim=-1).sum())
    return total / max(1, targets.shape[0])


def principal_basis(vectors: np.ndarray) -> np.ndarray:
    """Orthonormal basis (d, d) of ``vectors``' uncentred principal directions.

    Rotating targets into it keeps every cosine and puts the most energy in the first
    dimensions, so truncated student vectors lose the least. Computed from the (d, d)
    second-moment matrix, so it is complete even with fewer vectors than dimensions.
    """
    moments = vectors.astype(np.float64).T @ vectors.astype(np.float64)
    eigenvalues, eigenvectors = np.linalg.eigh(moments)
    order = np.argsort(eigenvalues)[::-1]
    return eigenvectors[:, order].astype(np.float32)


def pca_rows(vectors: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Project rows onto their top ``d`` centred principal components.

    Returns (projected (n, d), components (d, dim), mean (dim,)).
    """
    mean = vectors.mean(axis=0)
    centred = vectors - mean
    _, _, vt = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
    components = vt[:d].astype(np.float32)
    return (centred @ components.T).astype(np.float32), components, mean.astype(np.float32)


def init_from_teacher(model: Student, token_vectors: np.ndarray, weights: np.ndarray,
                      rotation: np.ndarray, n_words: int, seed: int = 0) -> None:
    """model2vec's trick: start each word row at the teacher's vector of the word itself.

    Word rows are the word vectors' top principal components times a frequency weight
    (SIF); the output layer maps that space back to the (rotated) teacher space, so the
    untrained student is already a weighted bag of teacher word vectors. Word-pair rows
    start at zero: they learn only what a pair means beyond its two words (starting them
    at the teacher's vector of "of the" drowns documents in generic pairs).
    """
    d_embed = model.bag.weight.shape[1]
    projected, components, _ = pca_rows(token_vectors[:n_words], d_embed)
    scale = 1.0 / max(1e-6, float(np.sqrt((projected**2).sum(1).mean())))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        model.bag.weight.zero_()
        rows = torch.from_numpy(projected * scale * weights[:n_words, None].astype(np.float32))
        model.bag.weight[:n_words] = rows
        n_char = model.bag.weight.shape[0] - model.n_rows
        model.bag.weight[model.n_rows :] = torch.randn(n_char, d_embed, generator=generator) * 0.01
        # out: embed space -> teacher space (components) -> rotated teacher space.
        model.out.weight.copy_(torch.from_numpy((components @ rotation).T.copy()))
        model.out.bias.zero_()


def export_weights(model: Student) -> dict[str, np.ndarray]:
    """The tensors LexDense reads (see LexDense.save)."""
    table = model.bag.weight.detach().numpy()
    if model.feature_weight is not None:
        table = table * model.feature_weight.detach().numpy()[:, None]
    return {
        "token_rows": table[: model.n_rows].astype(np.float16),
        "char_rows": table[model.n_rows :].astype(np.float16),
        "hidden.weight": model.hidden.weight.detach().numpy().astype(np.float32),
        "hidden.bias": model.hidden.bias.detach().numpy().astype(np.float32),
        "back.weight": model.back.weight.detach().numpy().astype(np.float32),
        "out.weight": model.out.weight.detach().numpy().astype(np.float32),
        "out.bias": model.out.bias.detach().numpy().astype(np.float32),
    }
