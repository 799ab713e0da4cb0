"""The command line: parse, call one command function, render; errors become exits only here."""
