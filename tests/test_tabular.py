"""The Weather tab's core (cnnlab.lessons.weather.table): the course's features, computed by hand for one row;
no test day leaking into what the network learns from; the course's network against "same as
yesterday" on 2015; the hand-written and nn versions doing the same thing; and a sentence for
every kind of CSV a student can upload that we cannot use."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from cnnlab.i18n import Refusal
from cnnlab.lessons import weather as T
from cnnlab.lessons.weather import run as weather_run


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """One PyTorch thread, as the app's training worker has (two fight over a busy machine)."""


@pytest.fixture(scope="module")
def raw():
    return T.seattle_weather()


@pytest.fixture(scope="module")
def table():
    return T.weather_table()


def row_of(rows: pd.DataFrame, date: str) -> pd.Series:
    [row] = [r for _, r in rows.iterrows() if r["date"] == pd.Timestamp(date)]
    return row


# ------------------------------------------------------------------ the course's features
def test_the_file_comes_from_the_installed_package(raw):
    assert len(raw) == 1461
    assert raw["date"].min() == pd.Timestamp("2012-01-01") and raw["date"].max() == pd.Timestamp("2015-12-31")
    assert raw["date"].diff().dropna().eq(pd.Timedelta(days=1)).all()          # every day, in order


def test_a_training_row_matches_the_hand_computed_one(raw):
    rows = T.weather_features(raw)
    row = row_of(rows, "2013-03-05")                   # a Tuesday in a training year
    t = raw.set_index("date")["temp_max"]
    # the historical average: the days within a week of 5 March (26 Feb - 12 Mar) in the OTHER
    # training years; 2012 is a leap year, so its window holds 29 Feb too (16 days, 2014: 15)
    window = pd.date_range("2012-02-26", "2012-03-12").append(pd.date_range("2014-02-26", "2014-03-12"))
    assert len(window) == 31
    expected = {"year": 2013, "month": 3, "day": 5, "temp_2": 11.1, "temp_1": 13.3,
                "average": t[window].mean(), "actual": 9.4, "week_Tue": 1.0}
    expected.update({f"week_{d}": 0.0 for d in T.WEEKDAYS if d != "Tue"})
    for name, value in expected.items():
        assert row[name] == pytest.approx(value), name
    assert list(rows.columns) == ["date", *T.WEATHER_FEATURES, "actual"]


def test_a_test_row_averages_all_training_years_round_the_new_year(raw):
    row = row_of(T.weather_features(raw), "2015-01-01")       # a Thursday
    t = raw.set_index("date")["temp_max"]
    days = pd.DatetimeIndex([])
    for y in T.TRAIN_YEARS:                              # 1-8 January and 25-31 December of each year
        days = days.append(pd.date_range(f"{y}-01-01", f"{y}-01-08")).append(pd.date_range(f"{y}-12-25", f"{y}-12-31"))
    assert row["temp_2"] == 3.3 and row["temp_1"] == 3.3 and row["actual"] == 5.6     # 30, 31 Dec 2014
    assert row["average"] == pytest.approx(t[days].mean())
    assert row["week_Thu"] == 1.0 and row[[f"week_{d}" for d in T.WEEKDAYS]].sum() == 1.0


def test_the_first_two_days_have_no_history_and_are_left_out(raw):
    rows = T.weather_features(raw)
    assert rows["date"].min() == pd.Timestamp("2012-01-03") and len(rows) == 1459
    assert not rows.isna().any().any()


def test_the_split_is_by_time_and_features_are_standardised_with_training_rows(table):
    assert table.index_train.dt.year.isin(T.TRAIN_YEARS).all() and table.index_test.dt.year.eq(2015).all()
    assert len(table.y_train) == 1094 and len(table.y_test) == 365
    x = table.x_train.numpy()
    assert np.allclose(x.mean(0), 0, atol=1e-5) and np.allclose(x.std(0), 1, atol=1e-4)
    assert abs(float(table.x_test[:, table.features.index("year")].mean()) - 2.45) < 0.01   # 2015 is new


# ------------------------------------------------------------------ nothing from the test days leaks
def test_no_test_day_enters_what_the_network_learns_from(raw):
    """Change every 2015 temperature: the training rows, the scaling statistics and the test
    days' historical averages stay exactly the same."""
    before = T.weather_table(raw)
    changed = raw.copy()
    changed.loc[changed["date"].dt.year == 2015, "temp_max"] += 100.0
    after = T.weather_table(changed)
    assert torch.equal(before.x_train, after.x_train) and torch.equal(before.y_train, after.y_train)
    assert np.array_equal(before.mean, after.mean) and np.array_equal(before.std, after.std)
    avg = before.features.index("average")
    assert torch.equal(before.x_test[:, avg], after.x_test[:, avg])
    assert not torch.equal(before.y_test, after.y_test)            # (the change did reach the test rows)


def test_a_training_day_never_sees_its_own_year_in_its_average(raw):
    changed = raw.copy()
    changed.loc[changed["date"].dt.year == 2013, "temp_max"] += 100.0
    before, after = T.weather_features(raw), T.weather_features(changed)
    in_2013 = before["year"] == 2013
    assert np.allclose(before.loc[in_2013, "average"], after.loc[in_2013, "average"])
    assert (after.loc[~in_2013, "average"] > before.loc[~in_2013, "average"] + 10).all()   # others do


# ------------------------------------------------------------------ baselines and the networks
def test_baselines_score_in_degrees(table):
    s = T.scores(T.baselines(table), table.y_test.numpy()).set_index("method")
    yesterday = T.mae(table.x_test[:, 4] * table.std[4] + table.mean[4], table.y_test)
    assert s.loc["same as yesterday", "MAE"] == pytest.approx(yesterday, rel=1e-5)
    assert 1.5 < s.loc["same as yesterday", "MAE"] < 3.5                  # a few degrees, as weather is
    assert s.loc["linear regression (scikit-learn)", "MAE"] < s.loc["always the training mean", "MAE"] / 2
    assert (s["RMSE"] >= s["MAE"]).all()


@pytest.fixture(scope="module")
def course_runs(table):
    """The course's defaults, whole: the nn version (Sigmoid, Adam) and the hand-written one
    (relu, gradient steps by hand), 300 epochs each (about 20,000 steps)."""
    nn_run = T.train(table, T.RegressionSettings())
    manual = T.train(table, T.RegressionSettings(version="manual", **T.MANUAL_SETTINGS))
    return nn_run, manual


@pytest.mark.slow
def test_the_course_network_beats_same_as_yesterday_on_2015(table, course_runs):
    nn_run, _ = course_runs
    yesterday = T.baselines(table)["same as yesterday"]
    s = nn_run.summary()
    print(f"network MAE {s['test_mae']:.3f} RMSE {s['test_rmse']:.3f}; same as yesterday "
          f"MAE {T.mae(yesterday, table.y_test):.3f} RMSE {T.rmse(yesterday, table.y_test):.3f}")
    assert s["steps"] == 300 * 69 and not s["diverged"]
    assert s["test_mae"] < T.mae(yesterday, table.y_test)
    assert s["test_rmse"] < T.rmse(yesterday, table.y_test)
    first, last = nn_run.history[0], nn_run.history[-1]
    assert last[1] < first[1] / 10 and last[2] < first[2] / 10       # both losses fell a lot


@pytest.mark.slow
def test_the_hand_written_and_nn_versions_reach_similar_error(course_runs):
    nn_run, manual = course_runs
    a, b = nn_run.summary()["test_mae"], manual.summary()["test_mae"]
    print(f"test MAE: nn {a:.3f}, hand-written {b:.3f}")
    assert abs(a - b) < 0.15 * min(a, b)


def test_the_two_versions_are_the_same_computation(table):
    """Same activation, plain SGD for nn, same seed: the hand-written version's numbers are
    nn.Sequential's, step for step."""
    settings = dict(activation="relu", optimizer="sgd", lr=0.01, epochs=3)
    a = T.train(table, T.RegressionSettings(version="nn", **settings))
    b = T.train(table, T.RegressionSettings(version="manual", **settings))
    assert len(a.history) == len(b.history) == 3
    for (_, tr_a, te_a), (_, tr_b, te_b) in zip(a.history, b.history):
        assert tr_a == pytest.approx(tr_b, rel=1e-4) and te_a == pytest.approx(te_b, rel=1e-4)
    assert np.allclose(a.test_predictions(), b.test_predictions(), atol=1e-3)


def test_runs_advance_in_bounded_chunks_and_stop_at_the_step_limit(table, monkeypatch):
    run = T.Run(table, T.RegressionSettings(epochs=2))
    assert run.advance(50) == 50 and run.step == 50 and not run.history
    assert run.advance(1000) == 2 * 69 - 50 and run.done and [h[0] for h in run.history] == [1.0, 2.0]
    monkeypatch.setattr(weather_run, "MAX_STEPS", 100)            # where Run reads it
    capped = T.Run(table, T.RegressionSettings(epochs=1000))
    while not capped.done:
        assert capped.advance(30) <= 30
    assert capped.step == 100 and capped.capped and capped.history[-1][0] == pytest.approx(100 / 69)


def test_a_huge_learning_rate_is_reported_as_diverged(table):
    run = T.train(table, T.RegressionSettings(version="manual", lr=1.0, epochs=5))
    assert run.diverged and run.done


@pytest.mark.parametrize("change, words", [
    (dict(hidden=0), "hidden layer"), (dict(lr=0), "learning rate"), (dict(lr=math.nan), "learning rate"),
    (dict(epochs=T.MAX_EPOCHS + 1), "Epochs"), (dict(batch_size=0), "batch size"),
    (dict(activation="softmax"), "activation"), (dict(optimizer="lbfgs"), "optimizer"), (dict(loss="hinge"), "loss"),
])
def test_bad_settings_get_a_sentence(change, words):
    with pytest.raises(Refusal) as refused:
        T.check_settings(T.RegressionSettings(**change))
    assert words in str(refused.value)


def test_the_code_shown_is_the_code_that_runs():
    assert "nn.Linear(n_features, hidden)" in T.code_of("nn") and "optimizer.step()" in T.code_of("nn")
    manual = T.code_of("manual")
    assert "x.mm(weights)" in manual and "p -= lr * p.grad" in manual and "optimizer" not in manual


# ------------------------------------------------------------------ a student's CSV
def write(tmp_path, text: str | bytes, name="data.csv"):
    path = tmp_path / name
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    return path


def good_csv(n=200, seed=0, missing=0) -> str:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    y = 3 * a - 2 * b + np.select([colour == "red", colour == "green"], [5.0, -5.0], 0.0) + rng.normal(0, 0.1, n)
    f = pd.DataFrame({"a": a, "b": b, "colour": colour, "id": [f"row{i}" for i in range(n)], "y": y})
    if missing:
        f.loc[:missing - 1, "b"] = np.nan
    return f.to_csv(index=False)


def test_a_good_csv_is_typed_one_hot_encoded_and_learned(tmp_path):
    t = T.read_csv_table(write(tmp_path, good_csv()))
    kinds = {c.name: c.kind for c in t.columns}
    assert kinds == {"a": "number", "b": "number", "colour": "category", "id": "unusable", "y": "number"}
    table = T.csv_table(t, "y", ["a", "b", "colour"])
    assert table.features == ["a", "b", "colour=blue", "colour=green", "colour=red"]
    assert len(table.y_test) == 40 and len(table.y_train) == 160
    run = T.train(table, T.RegressionSettings(activation="relu", lr=0.01, epochs=150))
    mean_mae = T.mae(T.baselines(table)["always the training mean"], table.y_test)
    assert run.summary()["test_mae"] < mean_mae / 3
    assert T.mae(T.linear_regression(table), table.y_test) < 0.3       # the data is a line plus noise


def test_european_csv_with_semicolons_and_decimal_commas(tmp_path):
    text = "x;y\n" + "".join(f"{i},5;{2 * i + 1},0\n" for i in range(30))
    t = T.read_csv_table(write(tmp_path, text))
    assert t.separator == ";" and t.numeric == ["x", "y"] and t.frame["x"].iloc[1] == 1.5


def test_the_last_fifth_split_keeps_the_order(tmp_path):
    t = T.read_csv_table(write(tmp_path, good_csv(100)))
    table = T.csv_table(t, "y", ["a", "b"], split="last")
    assert table.index_test.tolist() == list(range(82, 102))          # file lines of the last 20 rows


def test_a_category_only_seen_in_the_test_rows_is_all_zeros(tmp_path):
    rows = [f"{i},{'x' if i < 80 else 'new'},{i * 2}" for i in range(100)]
    t = T.read_csv_table(write(tmp_path, "n,kind,y\n" + "\n".join(rows)))
    table = T.csv_table(t, "y", ["n", "kind"], split="last")
    assert table.features == ["n", "kind=x"]
    assert torch.allclose(table.x_test[:, 1], torch.full((20,), float(table.x_test[0, 1])))


def test_empty_cells_get_a_sentence_or_are_dropped_when_asked(tmp_path):
    t = T.read_csv_table(write(tmp_path, good_csv(100, missing=3)))
    with pytest.raises(T.TableError, match=r"empty: 'b' \(3\).*line\(s\) 2, 3, 4.*Drop rows with empty cells"):
        T.csv_table(t, "y", ["a", "b"])
    table = T.csv_table(t, "y", ["a", "b"], drop_missing=True)
    assert len(table.y_train) + len(table.y_test) == 97 and "3 rows" in str(table.notes[0])
    assert len(T.csv_table(t, "y", ["a"]).y_train) == 80               # not a feature: no problem


BAD_FILES = {
    "binary": (bytes(range(256)) * 40, "not a CSV"),
    "excel": (b"PK\x03\x04" + bytes(2000), "Excel"),
    "empty": (b"", "empty"),
    "blank lines": (b"\n\n   \n", "empty"),
    "header only": (b"a,b,c\n", "0 rows"),
    "too few rows": ("a,b\n" + "1,2\n" * 5, "at least 20"),
    "one column": ("a\n" + "1\n" * 50, "only one column"),
    "ragged": ("a,b\n" + "1,2\n" * 30 + "1,2,3,4\n" + "1,2\n" * 5, "same number of columns"),
    "no numbers": ("name,town\n" + "ann,paris\n" * 30, "No column holds only numbers"),
    "nameless column": ("a,,c\n" + "1,2,3\n" * 30, "no name"),
    "too many columns": (",".join(f"c{i}" for i in range(60)) + "\n" + (",".join("1" * 60) + "\n") * 30,
                         "60 columns; the limit is 50"),
    "million rows": ("x,y\n" + "1,2\n" * 1_000_000, "more than 20,000 rows"),
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_a_bad_csv_gets_a_sentence(tmp_path, kind):
    content, words = BAD_FILES[kind]
    with pytest.raises(T.TableError, match=words) as err:
        T.read_csv_table(write(tmp_path, content))
    assert str(err.value).endswith(".") and len(str(err.value)) > 30     # a sentence, not a code


def test_a_50_mb_file_is_refused_before_it_is_read(tmp_path, monkeypatch):
    path = tmp_path / "big.csv"
    with open(path, "wb") as f:
        f.write(b"x,y\n")
        f.truncate(50 * 1024 * 1024)
    monkeypatch.setattr(type(path), "read_bytes", lambda self: pytest.fail("read a file over the limit"))
    with pytest.raises(T.TableError, match=r"50 MB; the limit is 5 MB"):
        T.read_csv_table(path)


@pytest.mark.parametrize("target, features, words", [
    ("colour", ["a"], "'colour' is text"),
    ("y", ["id"], "'id' cannot be a feature: it has 200 different texts"),
    ("y", [], "at least one feature"),
    ("nope", ["a"], "no column called 'nope'"),
])
def test_a_bad_choice_of_columns_gets_a_sentence(tmp_path, target, features, words):
    t = T.read_csv_table(write(tmp_path, good_csv()))
    with pytest.raises(T.TableError, match=words):
        T.csv_table(t, target, features)


def test_a_number_column_with_stray_text_and_a_constant_target(tmp_path):
    rows = "".join(f"{i},{'12 kg' if i == 7 else i},5\n" for i in range(40))
    t = T.read_csv_table(write(tmp_path, "a,b,same\n" + rows))
    assert t.column("b").kind == "unusable" and "'12 kg'" in str(t.column("b").why)
    with pytest.raises(T.TableError, match="holds numbers but also text such as '12 kg'"):
        T.csv_table(t, "a", ["b"])
    with pytest.raises(T.TableError, match="same 'same'"):
        T.csv_table(t, "same", ["a"])


def test_a_bad_file_and_a_bad_setting_are_explained_in_chinese_too(tmp_path):
    with pytest.raises(T.TableError) as err:
        T.read_csv_table(write(tmp_path, "a\n" + "1\n" * 50))
    assert "only one column" in str(err.value)
    assert err.value.args[0].in_("zh").startswith("文件只有一列")
    t = T.read_csv_table(write(tmp_path, good_csv()))
    with pytest.raises(T.TableError) as err:
        T.csv_table(t, "y", ["id"])
    assert "“id”列不能用作特征：它有 200 种不同的文本" in err.value.args[0].in_("zh")
    with pytest.raises(Refusal) as refused:
        T.check_settings(T.RegressionSettings(batch_size=0))
    assert refused.value.in_("zh") == "批大小必须在 1 到 4096 之间。"
