"""Does this input look like anything the model was trained on? ("not a flower at all")

A 5-class flower model has to pick one of its five flowers, even for a temple, and it may do so
with high confidence: the softmax only compares the classes with each other. The network's
feature vector (the layer before the head) says more. Photos of the training classes fill a
small region of that space, and a temple lands far from all of them.

The distance used is the Mahalanobis distance to the nearest class centre in the feature space
(Lee et al., 2018), with one covariance shared by the classes. The features are scaled to length
1 (their direction carries the meaning), then projected onto their ``K`` main directions (PCA),
which keeps the stored numbers small and the covariance estimable from a few thousand photos.
The projection alone is blind to whatever lies outside those ``K`` directions: a digit or a
sweater shown as a photo differs from every flower there, in directions no flower uses, and
lands at an ordinary distance inside them (half of them passed). So the part of the feature
vector outside the main directions counts too: its length, the *residual* (the idea of ViM,
Wang et al., 2022). An input is unfamiliar when either measure passes its limit. Each limit is
what ``1 - (1 - QUANTILE) / 2`` of held-out training images stay under, so together they call
at most ``1 - QUANTILE`` of them unfamiliar: about 1 in 40 real flowers, by construction.

Which features: a fine-tuned network's own features have learned to ignore whatever is not a
flower, so a temple lands among the sunflowers there. For such a network (``stock``) the
distance is measured on the stock ImageNet backbone's features (``models.stock_backbone``),
which still tell a temple from a flower; measured with bench/trust.py, in the README.

Everything is plain tensors stored in the checkpoint (``novelty``), fitted once by
``python -m cnnlab novelty CHECKPOINT``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..i18n import BadValue, Text
from .training import batches, eval_mode

K = 256             # PCA directions kept (64 and 128 let through half the temple crops)
QUANTILE = 0.975    # the share of held-out training images that must count as familiar
SHRINK = 0.1        # covariance shrinkage toward its diagonal: stable with few images a direction
FIELDS = ("mean", "basis", "centres", "precision", "limit")
# Checkpoints fitted before the residual lack it; they measure the distance alone.
RESIDUAL = "residual_limit"


@dataclass
class Novelty:
    mean: torch.Tensor         # (D,) mean feature vector of the training images
    basis: torch.Tensor        # (D, K) main directions
    centres: torch.Tensor      # (C, K) each class's centre in those directions
    precision: torch.Tensor    # (K, K) inverse of the shared within-class covariance
    limit: torch.Tensor        # () the distance above which an input is unfamiliar
    stock: bool = False        # measured on the stock backbone's features, not the model's own
    residual_limit: torch.Tensor | None = None   # () the residual above which it is, when K < D

    def distance(self, features: torch.Tensor) -> torch.Tensor:
        """(N,) squared Mahalanobis distance of each feature vector to its nearest class centre."""
        z = (unit(features).to(self.mean.device) - self.mean) @ self.basis
        diff = z[:, None, :] - self.centres[None]                        # (N, C, K)
        return torch.einsum("nck,kl,ncl->nc", diff, self.precision, diff).min(dim=1).values

    def residual(self, features: torch.Tensor) -> torch.Tensor:
        """(N,) length of each (unit, centred) feature vector outside the main directions."""
        x = unit(features).to(self.mean.device) - self.mean
        return (x - (x @ self.basis) @ self.basis.T).norm(dim=1)

    def strangeness(self, features: torch.Tensor) -> torch.Tensor:
        """(N,) the larger of distance / limit and residual / its limit: above 1 means unlike the
        training images."""
        out = self.distance(features) / self.limit
        if self.residual_limit is not None:
            out = torch.maximum(out, self.residual(features) / self.residual_limit)
        return out

    def to_payload(self) -> dict:
        out = {name: getattr(self, name).float().contiguous() for name in FIELDS} | {"stock": self.stock}
        if self.residual_limit is not None:
            out[RESIDUAL] = self.residual_limit.float()
        return out

    @classmethod
    def from_payload(cls, payload) -> Novelty:
        """From a checkpoint's ``novelty`` dict; ValueError when it does not fit together."""
        if not isinstance(payload, dict) or any(not isinstance(payload.get(f), torch.Tensor) for f in FIELDS) \
                or not isinstance(payload.get("stock", False), bool):
            raise BadValue(Text("errors.novelty_missing"))
        residual = payload.get(RESIDUAL)
        if residual is not None and not isinstance(residual, torch.Tensor):
            raise BadValue(Text("errors.novelty_missing"))
        n = cls(*(payload[f].float() for f in FIELDS), stock=payload.get("stock", False),
                residual_limit=None if residual is None else residual.float())
        d, k = n.basis.shape if n.basis.dim() == 2 else (0, 0)
        limits = [n.limit] + ([n.residual_limit] if residual is not None else [])
        ok = (n.mean.shape == (d,) and n.centres.dim() == 2 and n.centres.shape[1] == k
              and n.precision.shape == (k, k) and all(lim.dim() == 0 and float(lim) > 0 for lim in limits)
              and all(torch.isfinite(getattr(n, f)).all() for f in FIELDS))
        if not ok:
            raise BadValue(Text("errors.novelty_shapes"))
        return n


def unit(features: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(features.float(), dim=1)


def fit(features: torch.Tensor, labels: torch.Tensor, held: torch.Tensor, k: int = K,
        quantile: float = QUANTILE, stock: bool = False) -> Novelty:
    """Fit on the training images' features and labels; ``held`` (features of images the fit
    never saw, of the same classes) sets the limits: the distance's alone when the main
    directions span every feature, else the distance's and the residual's (see the module)."""
    x = unit(features).double()
    mean = x.mean(0)
    _, _, v = torch.linalg.svd(x - mean, full_matrices=False)
    basis = v[:min(k, v.shape[0])].T                                      # (D, K)
    z = (x - mean) @ basis
    classes = sorted(set(labels.tolist()))
    centres = torch.stack([z[labels == c].mean(0) for c in classes])
    resid = z - centres[torch.searchsorted(torch.tensor(classes), labels)]
    cov = resid.T @ resid / max(len(resid) - len(classes), 1)
    cov = (1 - SHRINK) * cov + SHRINK * torch.diag(cov.diagonal())
    novelty = Novelty(mean.float(), basis.float(), centres.float(), torch.linalg.inv(cov).float(),
                      torch.tensor(1.0), stock)
    if basis.shape[1] >= basis.shape[0]:                                  # nothing lies outside
        novelty.limit = torch.quantile(novelty.distance(held), quantile).float()
        return novelty
    each = 1 - (1 - quantile) / 2                                         # two limits, one budget
    novelty.limit = torch.quantile(novelty.distance(held), each).float()
    novelty.residual_limit = torch.quantile(novelty.residual(held), each).float()
    return novelty


def measures_stock(model) -> bool:
    """Whether a model's novelty is measured on the stock backbone: a transfer network whose
    backbone learned. (Where only its head learned, its own features are the stock ones.)"""
    from .nets.models import TransferNet
    return isinstance(model, TransferNet) and model.finetune != "head"


def features_for(novelty: Novelty, model, x: torch.Tensor) -> torch.Tensor:
    """The features ``novelty`` measures for a batch: the stock backbone's or the model's own."""
    if not novelty.stock:
        return model.embed(x)
    from .nets.models import stock_backbone
    stock = stock_backbone()                              # on the CPU, wherever the model runs
    return stock.embed(x.to(next(stock.parameters()).device))


@torch.no_grad()
def features_of(model, data, batch_size: int = 64) -> torch.Tensor:
    """(N, D) feature vectors (``model.embed``) of every image, in eval mode."""
    device = next(model.parameters()).device
    with eval_mode(model):
        return torch.cat([model.embed(x).float().cpu() for x, _ in batches(data, batch_size, device)])
