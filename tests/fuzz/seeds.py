#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, extracted from the real captures into a build tree.

    seeds.py FIXTURES_DIR SAMPLE_DIR OUT_DIR

Writes OUT_DIR/<target>/<n> files: one stream message per file for fuzz_stream (every fixture
message, at most two per shape, where a shape is the message with its digit runs collapsed),
REST bodies for fuzz_rest (trimmed exchangeInfo, snapshots, observed error bodies), and short runs
of recording lines for fuzz_recfmt. Big bodies are trimmed (a few symbols, a few levels) so the
fuzzer mutates inputs of a useful size. Nothing is written into the source tree.
"""
import gzip
import hashlib
import json
import os
import re
import sys


def lines_of(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        return f.read().split(b"\n")


def json_part(line):
    """The JSON of a capture line: from its first '{' or '['."""
    m = re.search(rb"[{\[]", line)
    return line[m.start():].rstrip(b"\r") if m else None


def trim_levels(body, keep):
    """A snapshot or depth message with at most `keep` levels per side (key order kept)."""
    try:
        obj = json.loads(body)
    except ValueError:
        return body
    target = obj.get("data", obj) if isinstance(obj, dict) else None
    if not isinstance(target, dict):
        return body
    for side in ("bids", "asks", "b", "a"):
        if isinstance(target.get(side), list):
            target[side] = target[side][:keep]
    return json.dumps(obj, separators=(",", ":")).encode()


class Writer:
    def __init__(self, out, target):
        self.dir = os.path.join(out, target)
        os.makedirs(self.dir, exist_ok=True)
        self.seen = set()

    def add(self, data):
        h = hashlib.sha1(data).hexdigest()
        if h not in self.seen:
            self.seen.add(h)
            with open(os.path.join(self.dir, "seed-" + h[:16]), "wb") as f:
                f.write(data)


def capture_files(fixtures):
    for root, _, names in sorted(os.walk(fixtures)):
        for name in sorted(names):
            if name.endswith((".md", ".index.txt")):
                continue
            yield os.path.join(root, name)


def stream_seeds(fixtures, sample, out):
    w = Writer(out, "fuzz_stream")
    shapes = {}
    sources = list(capture_files(fixtures)) + [
        os.path.join(sample, n) for n in sorted(os.listdir(sample)) if n.endswith(".gz")]
    for path in sources:
        whole = path.endswith(".json")
        msgs = [open(path, "rb").read()] if whole else [json_part(l) for l in lines_of(path)]
        for m in msgs:
            if not m:
                continue
            if len(m) > 4096:
                m = trim_levels(m, 20)
            if len(m) > 16384:  # exchangeInfo in a capture: fuzz_rest has it, trimmed
                continue
            shape = re.sub(rb"[0-9]+", b"0", m)
            if shapes.get(shape, 0) < 2:
                shapes[shape] = shapes.get(shape, 0) + 1
                w.add(m)


def rest_seeds(fixtures, out):
    w = Writer(out, "fuzz_rest")
    info_path = os.path.join(fixtures, "cryptofeed_usdm_20210722", "derived_rest_exchangeInfo.json")
    if os.path.exists(info_path):
        info = json.load(open(info_path, "rb"))
        syms = info.get("symbols", [])
        picks = [syms[:2]]
        picks += [[s] for s in syms if s.get("status") != "TRADING"][:1]
        picks += [[s] for s in syms if s.get("contractType") == ""][:1]
        for p in picks:
            small = dict(info)
            small["symbols"] = p
            w.add(json.dumps(small, separators=(",", ":")).encode())
    for path in capture_files(fixtures):
        name = os.path.basename(path)
        if "snapshot" in name and name.endswith(".json"):
            w.add(trim_levels(open(path, "rb").read(), 8))
        elif name == "errors_observed.txt":
            for line in lines_of(path):
                part = json_part(line)
                if part:
                    w.add(part)


def recfmt_seeds(fixtures, sample, out, chunk=6, chunks=12):
    w = Writer(out, "fuzz_recfmt")
    sources = [os.path.join(fixtures, "hftbacktest_usdm_btcusdt_20240808", "raw_head2000.txt"),
               os.path.join(fixtures, "cryptofeed_usdm_20210722", "BINANCE_FUTURES.ws.1.0")]
    sources += [os.path.join(sample, n) for n in sorted(os.listdir(sample)) if n.endswith(".gz")]
    for path in sources:
        if not os.path.exists(path):
            continue
        lines = [l if len(l) <= 2048 else l[:2048] for l in lines_of(path)]
        for i in range(0, min(len(lines), chunk * chunks), chunk):
            w.add(b"\n".join(lines[i:i + chunk]) + b"\n")


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    fixtures, sample, out = sys.argv[1:]
    if not os.path.isdir(fixtures):
        sys.exit(f"seeds.py: no fixtures at {fixtures}")
    stream_seeds(fixtures, sample, out)
    rest_seeds(fixtures, out)
    recfmt_seeds(fixtures, sample, out)
    for t in sorted(os.listdir(out)):
        print(f"seeds: {t}: {len(os.listdir(os.path.join(out, t)))} files")


if __name__ == "__main__":
    main()
