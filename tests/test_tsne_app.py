"""The t-SNE tab through its API (gradio_client against the launched app): the shipped map, the
right/wrong view, a drawing and a photo placed as stars, raw pixels vs last layer, and the
"how it learned" snapshots with their animated GIF."""
from __future__ import annotations

import base64
import re

import gradio as gr
import numpy as np
import pandas as pd
import pytest
import torch
from chinese import chinese_client
from gradio_client import handle_file
from PIL import Image

from cnnlab.config import TrainConfig
from cnnlab.core import datasets, snapshots, tsne
from cnnlab.core.datasets import FASHION_CLASSES
from cnnlab.core.nets.models import build_model
from cnnlab.core.plots import CLASS_COLORS
from cnnlab.core.training import TrainEvent
from cnnlab.i18n import class_name
from cnnlab.ui.tsne import STAR_DRAWING, STAR_PHOTO

DIGITS = [str(d) for d in range(10)]

FLOWERS = datasets.get_spec("flowers5").folder     # the flower photos' folder under the data root


def frame(plot) -> pd.DataFrame:
    """A ScatterPlot output (an update dict or the plot data itself) as a DataFrame."""
    data = plot.get("value", plot) if isinstance(plot, dict) else plot
    return pd.DataFrame(data["data"], columns=data["columns"])


def show(client, model="mnist-cnn", colour="true class", pictures=True):
    return client.predict(model, 2000, 30, colour, pictures, api_name="/tsne_map")


def test_shipped_map_shows_every_picture_by_class(client):
    plot, legend, info, placed, seen = show(client)
    df = frame(plot)
    assert len(df) == 2000
    assert sorted(df["group"].unique()) == DIGITS
    assert (df["group"] == df["true"]).all()
    assert df["image"].str.startswith("data:image/png;base64,").all()       # hover pictures
    assert "precomputed" in info and "2,000 test pictures" in info
    assert all(f">{d}</span>" in legend for d in DIGITS)                    # our legend, class colours
    assert all(colour in legend for colour in CLASS_COLORS)
    counts = df["true"].value_counts()
    assert counts.min() == counts.max() == 200                               # class-balanced


def test_right_wrong_view_puts_the_mistakes_on_top(client):
    plot, legend, info, _, _ = show(client, colour="right / wrong", pictures=False)
    df = frame(plot)
    assert set(df["group"]) <= {"right", "wrong"} and "image" not in df
    wrong = df["group"] == "wrong"
    assert (df.loc[wrong, "true"] != df.loc[wrong, "predicted"]).all()
    assert (df.loc[~wrong, "true"] == df.loc[~wrong, "predicted"]).all()
    assert wrong.any() and wrong[wrong].index.min() == (~wrong).sum()        # drawn last
    assert f"({wrong.sum():,} mistakes" in info
    assert "#0072B2" in legend and "#D55E00" in legend                      # blue right, orange wrong
    assert ">right</span>" in legend and ">wrong</span>" in legend and ">3</span>" not in legend


def sketch_value(app_server, paper: Image.Image, tmp_path):
    """A drawing as the Draw tab's component sends it: a Sketchpad's dict of files, or the light
    canvas's PNG data URL."""
    path = tmp_path / "drawing.png"
    paper.save(path)
    if isinstance(app_server[0].offered.get("drawing"), (type(None), gr.ImageEditor)):
        return {"background": None, "layers": [], "composite": handle_file(str(path)), "id": None}
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _drawing_of(digit: int, data_root) -> Image.Image:
    """A held-out MNIST test digit (not on the map) drawn as black ink on a white 280x280 canvas."""
    test = datasets.load("mnist", "test", data_root)
    on_map = set(tsne.balanced_sample(test.labels.numpy(), tsne.DEFAULT_N).tolist())
    index = next(i for i in range(len(test)) if int(test.labels[i]) == digit and i not in on_map)
    ink = test.images[index, 0].numpy()
    return Image.fromarray(255 - ink).resize((280, 280), Image.BILINEAR)


@pytest.mark.parametrize("digit", [3, 7])
def test_a_drawing_lands_among_its_digit_as_a_star(client, app_server, data_root, tmp_path, digit):
    base = frame(show(client, pictures=False)[0])
    plot, legend, placed, seen = client.predict("mnist-cnn", 2000, 30, "true class", False,
                                                sketch_value(app_server, _drawing_of(digit, data_root), tmp_path),
                                        api_name="/tsne_place_drawing")
    df = frame(plot)
    star = df[df["group"] == STAR_DRAWING]
    assert len(star) > 10                                                    # a star made of dots
    assert df.iloc[:len(base)][["x", "y"]].equals(base[["x", "y"]])          # the map did not move
    assert re.search(rf"lands among the \*\*{digit}\*\* pictures", placed), placed
    assert f"The model says **{digit}**" in placed
    centre = star[["x", "y"]].to_numpy()[-1]
    mine = base[base["true"] == str(digit)][["x", "y"]].to_numpy()
    assert np.linalg.norm(mine - centre, axis=1).min() < 0.05 * np.ptp(base["x"])
    assert seen is not None                                                  # what the model saw
    assert STAR_DRAWING in legend


def test_an_empty_drawing_is_refused_with_a_hint(client, app_server, tmp_path):
    value = sketch_value(app_server, Image.new("L", (280, 280), 255), tmp_path)
    with pytest.raises(Exception, match="Nothing drawn yet"):
        client.predict("mnist-cnn", 2000, 30, "true class", False, value, api_name="/tsne_place_drawing")


def test_unknown_model_is_refused(client):
    with pytest.raises(Exception, match="There is no model called 'mnist-resnet'; choose one of: .*mnist-cnn"):
        show(client, model="mnist-resnet")


def test_a_photo_lands_on_the_flower_map(client, flowers_root):
    """A flower photo that is not on the map (a training photo) placed into the flowers map."""
    photo = sorted((flowers_root / FLOWERS / "train" / "sunflower").glob("*.jpg"))[0]
    plot, legend, placed, seen = client.predict("flowers5-transfer", 2000, 30, "true class", False,
                                                handle_file(str(photo)), api_name="/tsne_place_photo")
    df = frame(plot)
    assert len(df[df["group"] == STAR_PHOTO]) > 10
    assert len(df[df["group"] != STAR_PHOTO]) == 866                         # the whole test set
    assert re.search(r"lands among the \*\*(daisy|dandelion|rose|sunflower|tulip)\*\*", placed)


def test_no_photo_gives_a_hint(client):
    with pytest.raises(Exception, match="Add a photo first"):
        client.predict("mnist-cnn", 2000, 30, "true class", False, None, api_name="/tsne_place_photo")


def test_last_layer_separates_classes_better_than_raw_pixels(client):
    raw, last, legend, caption = client.predict("mnist-cnn", 2000, 30, api_name="/tsne_compare")
    assert len(frame(raw)) == len(frame(last)) == 2000
    raw_share, last_share = (int(p) for p in re.findall(r"\*\*(\d+)%\*\*", caption))
    assert last_share > raw_share >= 10
    assert "pulled each class together" in caption


def test_how_it_learned_slider_and_gif(client, app_server):
    """Feed the app's recorder the way the shared training job does (start, then the end of a
    short bit of training), then look at the snapshots and export the GIF."""
    ctx = app_server[0].ctx
    recorder = ctx.recorder
    ctx.job.wait(timeout=300)                        # no other run may feed it meanwhile
    spec = datasets.get_spec("mnist")
    torch.manual_seed(0)
    model = build_model("cnn", spec)
    config = TrainConfig(dataset="mnist", model="cnn")
    recorder(TrainEvent("start"), model, config)
    train = datasets.load("mnist", "train", ctx.data_root)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    for i in range(30):
        x = datasets.normalize(train.images[i * 64:(i + 1) * 64], spec)
        loss = torch.nn.functional.cross_entropy(model(x), train.labels[i * 64:(i + 1) * 64])
        opt.zero_grad()
        loss.backward()
        opt.step()
    recorder(TrainEvent("done", step=30, epoch=0.03, elapsed_s=4.0, val_acc=0.8), model, config)

    note, slider = client.predict(api_name="/tsne_snapshots")
    assert "2 snapshots" in note
    plot, legend, caption = client.predict(1, "true class", api_name="/tsne_snapshot")
    assert len(frame(plot)) == snapshots.SNAPSHOT_N
    assert "Snapshot 2 of 2" in caption and "validation accuracy 80.0%" in caption
    path = client.predict(api_name="/tsne_gif")
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.is_animated and gif.n_frames == 2


def _chips(legend: str) -> dict[str, str]:
    """{group name: colour} of our legend's chips."""
    return {name: colour for colour, name in
            re.findall(r"border:3px solid (#[0-9A-Fa-f]{6});box-sizing:border-box'></span>([^<]+)</span>", legend)}


def test_a_chinese_reader_gets_the_map_in_chinese_with_the_same_colours(client, app_server, flowers_root):
    english = show(client, model="fashion-cnn-deep", pictures=False)
    with chinese_client(app_server[1]) as zh:
        plot, legend, info, _, _ = show(zh, model="fashion-cnn-deep", pictures=False)
        df = frame(plot)
        # the columns a hovered dot shows, and the groups, are named in Chinese
        assert {"分组", "真实类别", "预测"} <= set(df.columns) and "group" not in df.columns
        assert set(df["分组"]) == {class_name("zh", c) for c in FASHION_CLASSES} and "运动鞋" in set(df["分组"])
        assert "Fashion-MNIST 服饰" in info and "张测试图片" in info and "预先算好" in info
        # each class keeps its colour whatever the language
        en_chips, zh_chips = _chips(english[1]), _chips(legend)
        assert len(zh_chips) == 10
        assert all(zh_chips[class_name("zh", c)] == en_chips[c] for c in FASHION_CLASSES)
        _, legend, info, _, _ = show(zh, model="fashion-cnn-deep", colour="right / wrong", pictures=False)
        assert set(_chips(legend)) == {"正确", "错误"} and "个错误" in info
        # a photo placed on the flower map: Chinese words and flower names
        photo = sorted((flowers_root / FLOWERS / "train" / "sunflower").glob("*.jpg"))[0]
        plot, legend, placed, _ = zh.predict("flowers5-transfer", 2000, 30, "true class", False,
                                             handle_file(str(photo)), api_name="/tsne_place_photo")
        assert "★ 你的照片" in set(frame(plot)["分组"]) and "★ 你的照片" in legend
        assert re.search(r"你的照片落在 \*\*(雏菊|蒲公英|玫瑰|向日葵|郁金香)\*\* 的图片中间", placed), placed
        with pytest.raises(Exception, match="没有名为“mnist-resnet”的模型"):
            show(zh, model="mnist-resnet")
        with pytest.raises(Exception, match="地图上的测试图片数必须在 500 到 10,000 之间"):
            zh.predict("mnist-cnn", 20000, 30, "true class", False, api_name="/tsne_map")
