#!/usr/bin/env bash
# Rebuild the five LifelongMoE text corpora (data/corpora/*.jsonl.gz) from
# their source packages. See data/PROVENANCE.md for what each one holds.
#
# Usage: scripts/build-corpora.sh [OUTDIR]      (default OUTDIR: data/corpora)
#
# Needs: apt-get (with current package lists: run `apt-get update` first on
# a fresh machine), dpkg-deb, npm, python3 (standard library only), and the
# shared libraries of the `bible` program (libc6, libreadline8), which a
# stock Debian 12 system has.
#
# The package versions below are pinned and every downloaded file is checked
# against its SHA-256, so a rebuild gives byte-identical corpora. When the
# archive no longer carries a pinned version (e.g. a newer Debian security
# update of libpython3.11-stdlib replaced it), set CORPORA_UNPINNED=1 to take
# the current candidate versions instead; the output may then differ and
# data/PROVENANCE.md must be updated to match.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
out="${1:-$repo/data/corpora}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

# package=version  sha256 of the .deb (amd64 for the arch-specific ones)
debs=(
  "r-cran-janeaustenr=1.0.0-1 df6bddf211906d1ff404f8ff662c21b34e6660e7f54a311084e749050c019c95"
  "bible-kjv=4.38 75a49c032a6efa9faa2beb4a9acb70974380122906329d0e100de36cc88ff02d"
  "bible-kjv-text=4.38 d61b6aad4c51ba9e2800b825325fa6a09e99a0d02a9bb6dc4724fcc4995a1b7a"
  "dict-foldoc=20230119-1 745cbedb55c2da609cc88ee0284e9d11a67a11ae3709daf7bad0e895ac3294c3"
  "libpython3.11-stdlib=3.11.2-6+deb12u9 10f13e000ee757f5f2d2d3569f9e30546214a0c850acd78695feae373bfa3e53"
)
npm_pkg="spdx-license-list@6.12.0"
npm_sha256="54cc8d13086187333ca1457c8edaa06d9a412144f076aa7f7c1b59c4f3b0a1ef"

unpinned="${CORPORA_UNPINNED:-0}"

work="$(mktemp -d "${TMPDIR:-/tmp}/build-corpora.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/dl" "$work/src"

check_sha() {  # file expected-sha256
  local got
  got="$(sha256sum "$1" | cut -d' ' -f1)"
  if [[ "$got" != "$2" ]]; then
    if [[ "$unpinned" == 1 ]]; then
      echo "note: $(basename "$1") sha256 $got (pinned build expected $2)" >&2
    else
      echo "error: $(basename "$1") has sha256 $got, expected $2" >&2
      echo "       (set CORPORA_UNPINNED=1 to accept other package versions)" >&2
      exit 1
    fi
  fi
}

echo "== downloading packages into $work/dl"
for entry in "${debs[@]}"; do
  spec="${entry%% *}"
  sha="${entry##* }"
  name="${spec%%=*}"
  [[ "$unpinned" == 1 ]] && spec="$name"
  if ! (cd "$work/dl" && apt-get download "$spec" >"$work/apt-$name.log" 2>&1); then
    cat "$work/apt-$name.log" >&2
    echo "error: apt-get download $spec failed (stale package lists? try apt-get update;" >&2
    echo "       version gone from the archive? try CORPORA_UNPINNED=1)" >&2
    exit 1
  fi
  deb="$(ls "$work/dl/${name}"_*.deb)"
  check_sha "$deb" "$sha"
  echo "   $(basename "$deb")"
  dpkg-deb -x "$deb" "$work/src/$name"
done

spec="$npm_pkg"
[[ "$unpinned" == 1 ]] && spec="${npm_pkg%@*}"
tgz="$(cd "$work/dl" && npm pack --silent "$spec" 2>"$work/npm.log" | tail -n1)" || {
  cat "$work/npm.log" >&2; echo "error: npm pack $spec failed" >&2; exit 1; }
check_sha "$work/dl/$tgz" "$npm_sha256"
echo "   $tgz"
mkdir -p "$work/src/spdx-license-list"
tar -xzf "$work/dl/$tgz" -C "$work/src/spdx-license-list" --strip-components=1

echo "== package checksums"
(cd "$work/dl" && sha256sum -- *.deb *.tgz | sed 's/^/   /')

echo "== building corpora into $out"
python3 "$here/build_corpora.py" build --src "$work/src" --out "$out"

echo "== output checksums"
(cd "$out" && sha256sum -- fiction.jsonl.gz scripture.jsonl.gz legal.jsonl.gz \
  computing.jsonl.gz code.jsonl.gz | sed 's/^/   /')
