"""rivet: safe, predictable extraction from production databases into Parquet or CSV."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("rivet-extract")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
