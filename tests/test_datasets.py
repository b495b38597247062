"""Data sets by name: the registry, in-memory loading, and what a user sees when data is missing."""
from __future__ import annotations

import pytest
import torch

from cnnlab.core import datasets
from cnnlab.core.datasets import DATASETS, DataMissingError


@pytest.mark.parametrize("name, num_classes, some_class", [
    ("mnist", 10, "7"),
    ("fashion", 10, "Ankle boot"),
    ("flowers5", 5, "sunflower"),
    ("flowers102", 102, "sunflower"),
])
def test_registry_has_named_classes(name, num_classes, some_class):
    spec = datasets.get_spec(name)
    assert spec.name == name and spec.title
    assert spec.num_classes == num_classes
    assert some_class in spec.classes
    assert len(set(spec.classes)) == num_classes, "class names must be distinct"
    assert all(isinstance(c, str) and c for c in spec.classes)
    assert len(spec.mean) == len(spec.std) == spec.channels


def test_registry_names():
    assert {"mnist", "fashion", "flowers5", "flowers102"} <= set(DATASETS)


def test_unknown_data_set_names_the_choices():
    with pytest.raises(KeyError) as err:
        datasets.get_spec("mnsit")
    message = str(err.value)
    assert "mnsit" in message and "mnist" in message and "fashion" in message
    with pytest.raises(KeyError, match="unknown data set"):
        datasets.load("mnsit", "train")


def test_unknown_split_is_refused(data_root):
    with pytest.raises(ValueError, match="split"):
        datasets.load("mnist", "validation", data_root)


@pytest.mark.parametrize("name, train_n, test_n", [("mnist", 60000, 10000), ("fashion", 60000, 10000)])
def test_mnist_like_sets_load_as_uint8_tensors(data_root, name, train_n, test_n):
    for split, n in (("train", train_n), ("test", test_n)):
        data = datasets.load(name, split, data_root)
        assert data.images.dtype == torch.uint8
        assert data.images.shape == (n, 1, 28, 28)
        assert data.labels.dtype == torch.int64 and data.labels.shape == (n,)
        assert set(data.labels.unique().tolist()) == set(range(10))
        assert data.images.max() == 255 and data.images.min() == 0
        assert data.spec is datasets.get_spec(name)
    # loaded once per process: the second call is the very same tensors
    assert datasets.load(name, "test", data_root).images is datasets.load(name, "test", data_root).images


def test_subset_is_a_fixed_random_pick_across_classes(data_root):
    data = datasets.load("mnist", "test", data_root)
    small = data.subset(100)
    assert len(small) == 100 and torch.equal(small.images, data.subset(100).images)   # same pick
    assert len(small.labels.unique()) == 10
    assert data.subset(0) is data and data.subset(10**9) is data
    flowers = datasets.TensorData(torch.zeros(50, 1, 2, 2, dtype=torch.uint8),
                                  torch.arange(5).repeat_interleave(10), data.spec)   # sorted by class
    assert len(flowers.subset(10).labels.unique()) > 1, "a small subset must not be one class"


def test_normalize_uses_the_data_set_statistics(data_root):
    data = datasets.load("mnist", "train", data_root).subset(5000)
    x = datasets.normalize(data.images, data.spec)
    assert x.dtype == torch.float32 and x.shape == data.images.shape
    assert abs(x.mean().item()) < 0.05 and abs(x.std().item() - 1) < 0.05


@pytest.mark.parametrize("name, folder", [("mnist", "MNIST"), ("fashion", "FashionMNIST"),
                                          ("flowers5", "flower_photos"), ("flowers102", "flowers-102")])
def test_missing_data_says_which_set_and_where(tmp_path, name, folder):
    empty = tmp_path / "no-data-here"
    empty.mkdir()
    with pytest.raises(DataMissingError) as err:
        datasets.load(name, "test", empty)
    message = str(err.value)
    assert datasets.get_spec(name).title in message
    assert str(empty) in message and folder in message
    assert "--data-dir" in message, "the message should say how to fix it"


@pytest.mark.slow
def test_flower_photos_load_at_the_backbone_size(flowers_root):
    data = datasets.load("flowers5", "test", flowers_root)
    assert data.images.dtype == torch.uint8
    assert data.images.shape[1:] == (3, datasets.PHOTO_SIZE, datasets.PHOTO_SIZE)
    assert len(data) > 800 and set(data.labels.tolist()) == set(range(5))
