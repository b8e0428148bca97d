"""retail-edge: the in-store edge agent."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("retail-edge")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
