"""Streaming split of a large XML file, in bounded memory.

    python benchmarks/xml_split.py [--megabytes 200]

Generates an XML file of ~N MB with 100,000+ <order> records, then runs a process whose
`split` streams the file in batches of 1,000 through a `map` step and keeps only a
tally. Prints records/s and the peak RSS of the process that did the work (the target:
under 250 MB for 200 MB of XML). Each run happens in a fresh subprocess, so the peak is
the split's own.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROCESS = textwrap.dedent(
    """
    name: split-orders
    namespaces: {o: "urn:example:orders"}
    trigger: {http: {auth: none, path: /split, input: raw}}
    steps:
      - split:
          xpath: /o:orders/o:order
          batch: 1000
          output: count
          steps:
            - map:
                fields:
                  id: xpath('/o:order/@id')
                  customer: xpath('/o:order/o:customer')
                  total: xpath('sum(/o:order/o:line/o:price)')
    """
)


def generate(path: Path, megabytes: int) -> int:
    """Write ~megabytes of orders; return how many."""
    target = megabytes * 1024 * 1024
    written = count = 0
    lines = "".join(
        f"<line><sku>SKU-{n:05d}</sku><qty>{n % 7 + 1}</qty><price>{n % 50 + 0.99}</price>"
        f"<note>{'x' * 120}</note></line>"
        for n in range(8)
    )
    with path.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<orders xmlns="urn:example:orders">\n')
        while written < target:
            customer = f"<customer>Customer {count % 977}</customer>"
            record = f'<order id="PO-{count:07d}">{customer}{lines}</order>\n'
            out.write(record)
            written += len(record)
            count += 1
        out.write("</orders>\n")
    return count


def work(xml_path: str, workdir: str) -> None:
    """Runs in the measured subprocess."""
    sys.path.insert(0, str(ROOT))
    from runtime.core.document import Document
    from runtime.loading.loader import load_processes

    directory = Path(workdir) / "processes"
    directory.mkdir(exist_ok=True)
    (directory / "split.yaml").write_text(PROCESS)
    (process,) = load_processes(directory)
    started = time.perf_counter()
    result = asyncio.run(process.execute([Document.file(xml_path, "application/xml")]))
    elapsed = time.perf_counter() - started
    assert result.execution.error is None, result.execution.error
    tally = result.documents[0].body
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{tally['parts']} {tally['batches']} {elapsed:.2f} {peak_mb:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wharf-split-") as workdir:
        xml_path = Path(workdir) / "orders.xml"
        records = generate(xml_path, args.megabytes)
        size = xml_path.stat().st_size / 1024 / 1024
        output = subprocess.run(
            [sys.executable, __file__, "--work", str(xml_path), workdir],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        ).stdout.split()
        parts, batches, elapsed, peak = (
            int(output[0]),
            int(output[1]),
            float(output[2]),
            float(output[3]),
        )
        assert parts == records, (parts, records)
        print(
            f"split {size:.0f} MB, {parts} records in {batches} batches: {elapsed:.1f} s "
            f"({parts / elapsed:,.0f} records/s), peak RSS {peak:.0f} MB (target < 250 MB)"
        )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--work":
        work(sys.argv[2], sys.argv[3])
    else:
        main()
