"""Where repeated runs remember where they stopped: the state store."""

from rivet.state.store import CursorState, StateStore, open_state

__all__ = ["CursorState", "StateStore", "open_state"]
