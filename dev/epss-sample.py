#!/usr/bin/env python3
"""Writes tests/fixtures/threat/epss_scores-sample.csv.gz: an EPSS file in FIRST's exact shape
(a `#model_version...,score_date...` line, a `cve,epss,percentile` header, one row per CVE,
five decimals) with made-up scores: every CVE of the KEV fixture and of the scanner fixtures,
then 3,000 more. Deterministic, so the committed file can be made again byte for byte."""
import gzip, json, pathlib, random, re

root = pathlib.Path(__file__).resolve().parent.parent
fixtures = root / "tests" / "fixtures"
kev = json.loads((fixtures / "threat" / "known_exploited_vulnerabilities.json").read_text())
cves = {entry["cveID"] for entry in kev["vulnerabilities"]}
for document in (fixtures / "scanners").glob("*.json"):
    cves.update(re.findall(r"CVE-\d{4}-\d{4,}", document.read_text()))
rng = random.Random(34)
while len(cves) < len(kev["vulnerabilities"]) + 3000:
    cves.add(f"CVE-{rng.randint(2015, 2026)}-{rng.randint(1000, 60000)}")
# Known scores stay put so the tests can name them; the rest are drawn like the real file's
# (most near zero).
fixed = {"CVE-2021-44228": (0.94358, 0.99990), "CVE-2024-24790": (0.00327, 0.55112),
         "CVE-2019-1549": (0.01204, 0.78520), "CVE-2019-1551": (0.00218, 0.44409)}
rows = []
for cve in sorted(cves, key=lambda c: (int(c.split("-")[1]), int(c.split("-")[2]))):
    epss = fixed.get(cve, (round(min(1.0, rng.expovariate(40)), 5), None))[0]
    rows.append([cve, epss])
ranked = sorted(rows, key=lambda row: row[1])
percentile = {row[0]: round((index + 1) / len(ranked), 5) for index, row in enumerate(ranked)}
lines = ["#model_version:v2025.03.14,score_date:2026-12-06T12:55:00+0000", "cve,epss,percentile"]
for cve, epss in rows:
    lines.append(f"{cve},{epss:.5f},{fixed.get(cve, (0, percentile[cve]))[1]:.5f}")
out = fixtures / "threat" / "epss_scores-sample.csv.gz"
out.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))
print(out, len(rows), "rows")
