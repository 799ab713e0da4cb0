"""The command line: parse, call one command function, render; errors become exits only here."""

import os

# rivet multiplies no matrices: numpy's OpenBLAS would start a thread per core that spins on the
# CPU the export needs (4% of the samples on the narrow benchmark). Set before numpy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
