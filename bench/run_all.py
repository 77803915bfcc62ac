"""Run every benchmark in bench/ in turn (``make bench``)."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for script in ("validation.py", "store.py"):  # search.py takes long: see docs/benchmarks.md
    print(f"== {script}", flush=True)
    subprocess.run([sys.executable, str(HERE / script), *sys.argv[1:]], check=True)
