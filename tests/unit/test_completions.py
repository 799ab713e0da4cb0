"""`rivet completions`: the scripts, and the completions they ask rivet for."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _rivet(*args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "rivet", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


SCRIPTS = [
    ("bash", "complete -o nosort -F"),
    ("zsh", "#compdef rivet"),
    ("fish", "complete --no-files --command rivet"),
]


@pytest.mark.parametrize(("shell", "marker"), SCRIPTS)
def test_each_shell_gets_its_script(shell: str, marker: str) -> None:
    script = _rivet("completions", shell)
    assert marker in script and "_RIVET_COMPLETE" in script


def test_the_script_completes_commands_and_options() -> None:
    def complete(words: str) -> list[str]:
        out = _rivet(env={"_RIVET_COMPLETE": "bash_complete", "COMP_WORDS": words,
                          "COMP_CWORD": str(len(words.split()) - 1)})  # fmt: skip
        return [line.split(",", 1)[1] for line in out.splitlines()]

    assert complete("rivet st") == ["state"]
    assert complete("rivet run --va") == ["--validate"]
    assert complete("rivet completions f") == ["fish"]
