"""The weather lesson: regression on a table (the course's Seattle weather, or a student's CSV).
No Gradio here.

- ``table.py``: the weather table (the course's features, split by year), ``Table``, baselines;
- ``run.py``: the course's network and its hand-written twin, settings and limits, ``Run``, ``Worker``;
- ``csvfile.py``: a student's own CSV read as a ``Table``, with a sentence for every bad file.

The lesson's names are gathered here, so a page reads ``weather.Run``, ``weather.lesson_table()``.
"""
from .csvfile import (
    LIMITS_TEXT,
    MAX_CATEGORIES,
    MAX_COLUMNS,
    MAX_CSV_BYTES,
    MAX_CSV_MB,
    MAX_ENCODED,
    MAX_ROWS,
    MIN_ROWS,
    TEST_SHARE,
    Column,
    CsvTable,
    csv_table,
    read_csv_table,
)
from .run import (
    ACTIVATIONS,
    LOSSES,
    MANUAL_SETTINGS,
    MAX_BATCH,
    MAX_EPOCHS,
    MAX_HIDDEN,
    MAX_STEPS,
    OPTIMIZERS,
    VERSIONS,
    Activation,
    RegressionSettings,
    Run,
    Worker,
    check_settings,
    code_of,
    make_manual,
    make_nn,
    make_optimizer,
    manual_step,
    nn_step,
    planned_steps,
    train,
)
from .table import (
    AVERAGE_WINDOW,
    TEST_YEARS,
    TRAIN_YEARS,
    WEATHER_FEATURES,
    WEATHER_TARGET,
    WEEKDAYS,
    Table,
    TableError,
    baselines,
    day_of_year,
    historical_average,
    lesson_table,
    linear_regression,
    mae,
    make_table,
    rmse,
    scores,
    seattle_weather,
    standardise,
    weather_features,
    weather_table,
)

__all__ = [
    'ACTIVATIONS', 'AVERAGE_WINDOW', 'Activation', 'Column', 'CsvTable', 'LIMITS_TEXT', 'LOSSES', 'MANUAL_SETTINGS',
    'MAX_BATCH', 'MAX_CATEGORIES', 'MAX_COLUMNS', 'MAX_CSV_BYTES', 'MAX_CSV_MB', 'MAX_ENCODED', 'MAX_EPOCHS',
    'MAX_HIDDEN', 'MAX_ROWS', 'MAX_STEPS', 'MIN_ROWS', 'OPTIMIZERS', 'RegressionSettings', 'Run', 'TEST_SHARE',
    'TEST_YEARS', 'TRAIN_YEARS', 'Table', 'TableError', 'VERSIONS', 'WEATHER_FEATURES', 'WEATHER_TARGET',
    'WEEKDAYS', 'Worker', 'baselines', 'check_settings', 'code_of', 'csv_table', 'day_of_year',
    'historical_average', 'lesson_table', 'linear_regression', 'mae', 'make_manual', 'make_nn', 'make_optimizer',
    'make_table', 'manual_step', 'nn_step', 'planned_steps', 'read_csv_table', 'rmse', 'scores', 'seattle_weather',
    'standardise', 'train', 'weather_features', 'weather_table',
]
