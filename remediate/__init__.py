"""remediate: fix Windows license-activation errors across fleets of hosts over WinRM."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("remediate")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
