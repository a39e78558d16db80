"""The run folder convention: ``runs/<name>/`` holds one run's inputs and outputs.

```
runs/<name>/config.yaml      the resolved config of the last command that wrote here
runs/<name>/world/data/      ShopWorld's user-facing files: catalog, images, logs
runs/<name>/world/truth/     ShopWorld's hidden truth, read only by evaluation
```
Later stages add their own folders beside these.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fusionrank.config import RunConfig, dump_config
from fusionrank.io import atomic_path


@dataclass(frozen=True)
class RunFolder:
    path: Path

    @classmethod
    def for_config(cls, config: RunConfig) -> RunFolder:
        return cls(config.run_dir)

    @property
    def config_path(self) -> Path:
        return self.path / "config.yaml"

    @property
    def world_dir(self) -> Path:
        return self.path / "world"

    @property
    def data_dir(self) -> Path:
        return self.world_dir / "data"

    @property
    def truth_dir(self) -> Path:
        return self.world_dir / "truth"

    def save_config(self, config: RunConfig) -> Path:
        """Write the resolved config atomically and return its path."""
        self.path.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.config_path) as tmp:
            tmp.write_text(dump_config(config))
        return self.config_path
