"""Output formats: Arrow batches in, one finished file out (Parquet or CSV)."""

from rivet.formats.base import PartWriter, open_writer

__all__ = ["PartWriter", "open_writer"]
