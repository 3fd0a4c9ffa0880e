"""Where the agent keeps its data and logs.

Service installs pass explicit folders in the config; a desktop or demo run falls back to the platform's usual
per-user folders (platformdirs).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import platformdirs

from .config import Config

APP_NAME = "posplugin"


@dataclass(frozen=True)
class AgentPaths:
    data_dir: Path
    log_dir: Path

    @property
    def database(self) -> Path:
        return self.data_dir / "posplugin.sqlite3"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "posplugin.log"

    @property
    def secrets_file(self) -> Path:
        return self.data_dir / "secrets.json"

    def ensure(self) -> None:
        for folder in (self.data_dir, self.log_dir):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)


def resolve_paths(config: Config) -> AgentPaths:
    data = Path(config.agent.data_dir) if config.agent.data_dir else Path(platformdirs.user_data_dir(APP_NAME))
    logs = Path(config.agent.log_dir) if config.agent.log_dir else Path(platformdirs.user_log_dir(APP_NAME))
    return AgentPaths(data_dir=data.expanduser(), log_dir=logs.expanduser())
