"""The base of every settings section, apart so that component packages can define theirs."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A settings section: unknown keys are errors so that typos are caught at start-up."""

    model_config = ConfigDict(extra="forbid")
