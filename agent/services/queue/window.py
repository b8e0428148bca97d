"""Which window token opens which queue: the printed sticker's, the rotating screen's, and the
form token the join page hands to a phone that scanned a good one."""

from __future__ import annotations

from collections.abc import Callable

from agent.core.ports import Clock
from agent.core.window_token import WindowTokens
from agent.services.queue.state import QueueRegistry


class WindowAccess:
    def __init__(
        self,
        tokens: WindowTokens,
        registry: QueueRegistry,
        clock: Clock,
        static_generation: Callable[[str], int],
    ) -> None:
        self.tokens = tokens
        self._registry = registry
        self._clock = clock
        self._static_generation = static_generation

    def static_token(self, queue: str) -> str:
        """The long-lived token printed on a queue's window sticker."""
        return self.tokens.static(queue, self._static_generation(queue))

    def window_token(self, queue: str) -> str:
        """What the window shows now: the sticker's token or the current rotating one."""
        if self._registry.get(queue).config.printed_sticker:
            return self.static_token(queue)
        return self.tokens.rotating(queue, self._clock.now().timestamp())

    def token_valid(self, queue: str, token: str) -> bool:
        return self.tokens.verify(
            queue,
            token,
            unix_time=self._clock.now().timestamp(),
            mode=self._registry.get(queue).config.window_token,
            generation=self._static_generation(queue),
        )

    def form_token(self, queue: str) -> str:
        return self.tokens.form(queue, self._clock.now().timestamp())
