"""rivet.yaml: the pydantic models and the loader (${VAR}, --param, error reporting)."""

from rivet.config.load import load_config
from rivet.config.models import ExportConfig, RivetConfig, SourceConfig

__all__ = ["ExportConfig", "RivetConfig", "SourceConfig", "load_config"]
