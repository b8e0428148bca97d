"""Direction from a pair of break beams across a door (pure; times passed in).

Beam A is on the street side, beam B on the shop side. Someone walking in breaks A, then B,
then clears A, then clears B; walking out is the mirror image. A passage is counted once,
when both beams are clear again, in the direction of the beam broken first, and only if the
other beam was broken too: someone who steps into the door and backs out counts nothing, and
someone standing in the door (both beams broken for a long time) counts once, when they leave
it, whichever way they go.

Flicker shorter than `debounce_s` (a swinging bag strap, sensor noise) is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BeamSettings:
    debounce_s: float = 0.05


@dataclass(slots=True)
class BeamPair:
    settings: BeamSettings
    a_broken: bool = False
    b_broken: bool = False
    first: str | None = None  # "a" or "b": which beam this passage broke first
    crossed: bool = False  # the other beam was broken too during this passage
    _pending: tuple[str, bool, float] | None = None  # a change waiting out the debounce

    def change(self, beam: str, broken: bool, at: float) -> str | None:
        """A beam changed state at ``at``. Returns "in"/"out" when a passage completes.

        The previous pending change is committed if it lasted longer than the debounce;
        a change reverted within the debounce is dropped as flicker.
        """
        result = self._settle(at)
        if self._pending is not None:
            if self._pending[0] == beam and self._pending[1] != broken:
                self._pending = None  # reverted within the debounce: flicker
                return result
            # The other beam moved: the pending change was real, commit it first.
            pending_beam, pending_broken, _ = self._pending
            self._pending = None
            result = self._apply(pending_beam, pending_broken) or result
        self._pending = (beam, broken, at)
        return result

    def flush(self, at: float) -> str | None:
        """Commit a pending change once its debounce has passed (call on a timer)."""
        return self._settle(at)

    def _settle(self, at: float) -> str | None:
        if self._pending is None or at - self._pending[2] < self.settings.debounce_s:
            return None
        beam, broken, _ = self._pending
        self._pending = None
        return self._apply(beam, broken)

    def _apply(self, beam: str, broken: bool) -> str | None:
        if beam == "a":
            self.a_broken = broken
        else:
            self.b_broken = broken
        if broken:
            if self.first is None:
                self.first = beam
            elif beam != self.first:
                self.crossed = True
            return None
        if self.a_broken or self.b_broken:
            return None
        # Both clear: the passage is over.
        direction = None
        if self.crossed:
            direction = "in" if self.first == "a" else "out"
        self.first = None
        self.crossed = False
        return direction
