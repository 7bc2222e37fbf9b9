"""What every fallback layer is: something that can try to answer a read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from worktrack.db import DataSource, Unit
from worktrack.models.common import Envelope

R = TypeVar("R", bound=Envelope)


class Declined(Exception):
    """This layer cannot answer this read (and says why); the next one may."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Answer(Generic[R]):
    result: R
    as_of: datetime | None  # when the data was current, as far as the layer knows
    note: str  # where exactly it came from, for the result's warnings


class Layer(Protocol):
    @property
    def name(self) -> DataSource: ...

    async def answer(self, unit: Unit[R], now: datetime) -> Answer[R]: ...


class Reader(Layer, Protocol):
    """A layer answering from a file, holding a database built from it until closed."""

    async def close(self) -> None: ...
