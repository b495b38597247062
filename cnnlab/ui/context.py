"""What every tab builder receives: settings and the shared, read-only (or locked) objects."""
from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Any

from ..config import AppConfig, data_root
from ..zoo import ModelZoo


@dataclass
class AppContext:
    config: AppConfig
    zoo: ModelZoo
    job: Any = None                          # the one shared training job (cnnlab.jobs), if built
    extras: dict = field(default_factory=dict)   # other shared services a tab publishes by name

    @property
    def data_root(self):
        return data_root(self.config.data_dir)

    def teacher_ok(self, key: str | None) -> bool:
        """True when no teacher key is set, or when ``key`` matches it (constant-time compare)."""
        expected = self.config.teacher_key
        return not expected or hmac.compare_digest(str(key or "").encode(), expected.encode())
