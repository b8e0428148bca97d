"""Errors that end a command with one readable line instead of a traceback."""


class UserFacingError(Exception):
    """An error whose message is fit to show an operator as-is (one line, no traceback)."""


class ConfigError(UserFacingError):
    """The configuration is invalid; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class DatabaseLockedError(UserFacingError):
    """Another agent process already owns this database file."""


class StorageError(UserFacingError):
    """The database cannot be opened or written (disk full, read-only, wrong store)."""
