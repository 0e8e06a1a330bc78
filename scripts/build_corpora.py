#!/usr/bin/env python3
"""Build the five LifelongMoE text corpora from unpacked Debian/npm packages.

Usage:
  build_corpora.py build --src DIR --out DIR
      DIR given to --src holds one sub-directory per unpacked package:
        r-cran-janeaustenr/  bible-kjv/  bible-kjv-text/  dict-foldoc/
        libpython3.11-stdlib/  spdx-license-list/   (the npm tarball's package/)
      Writes OUT/NAME.jsonl.gz for NAME in fiction, scripture, legal,
      computing, code and prints per-distribution statistics.
  build_corpora.py check DIR
      Re-reads DIR/NAME.jsonl.gz and validates the output contract.

Only the Python standard library is used. Output is deterministic: documents
are emitted in a fixed order, JSON is serialised with fixed settings and the
gzip header carries no file name and mtime 0, so identical inputs give
byte-identical files.
"""

import gzip
import json
import os
import re
import struct
import subprocess
import sys
import zlib

DISTRIBUTIONS = ["fiction", "scripture", "legal", "computing", "code"]
HOLDOUT_EVERY = 20
HOLDOUT_OFFSET = 19

# Size caps (UTF-8 bytes of document text) for the two large sources.
COMPUTING_CAP = int(5.5 * 1024 * 1024)
CODE_CAP = int(5.5 * 1024 * 1024)

# Near-duplicate removal for the licence texts.
SHINGLE_WORDS = 5
JACCARD_THRESHOLD = 0.5


# ---------------------------------------------------------------------------
# Minimal reader for R's XDR serialisation format (versions 2 and 3).
# Supports what the janeaustenr lazy-load database needs: character vectors,
# generic vectors, integer/logical/double vectors, pairlists and symbols.
# ---------------------------------------------------------------------------

class RValue:
    """An R vector together with its attributes (a dict name -> value)."""

    def __init__(self, value, attributes):
        self.value = value
        self.attributes = attributes


class RXdrReader:
    NILVALUE = 254
    REFSXP = 255
    SPECIAL_ENVS = {253, 252, 251, 250, 242, 241}  # global/base/empty env etc.

    def __init__(self, data):
        self.data = data
        self.pos = 0
        self.refs = []

    def _int(self):
        (v,) = struct.unpack_from(">i", self.data, self.pos)
        self.pos += 4
        return v

    def _bytes(self, n):
        b = self.data[self.pos:self.pos + n]
        if len(b) != n:
            raise ValueError("truncated R serialisation stream")
        self.pos += n
        return b

    def _length(self):
        n = self._int()
        if n == -1:  # long vector: two more ints
            hi = self._int()
            lo = self._int()
            n = (hi << 32) | lo
        return n

    def read(self):
        if self._bytes(2) != b"X\n":
            raise ValueError("not an XDR-format R serialisation")
        version = self._int()
        self._int()  # R version that wrote it
        self._int()  # minimal R version to read it
        if version == 3:
            self._bytes(self._int())  # native encoding name
        elif version != 2:
            raise ValueError("unsupported serialisation version %d" % version)
        return self._item()

    def _attributes(self, has_attr):
        if not has_attr:
            return {}
        pairs = self._item()
        attrs = {}
        for tag, val in pairs or []:
            attrs[tag if isinstance(tag, str) else repr(tag)] = val
        return attrs

    def _item(self):
        flags = self._int()
        sxptype = flags & 0xFF
        has_attr = bool(flags & (1 << 9))
        has_tag = bool(flags & (1 << 10))

        if sxptype == self.NILVALUE:
            return None
        if sxptype == self.REFSXP:
            index = flags >> 8
            if index == 0:
                index = self._int()
            return self.refs[index - 1]
        if sxptype in self.SPECIAL_ENVS:
            return None
        if sxptype == 9:  # CHARSXP
            n = self._int()
            if n == -1:
                return None  # NA_character_
            raw = self._bytes(n)
            if flags & (1 << 14) and not flags & (1 << 15):  # LATIN1, not UTF8
                return raw.decode("latin-1")
            return raw.decode("utf-8")
        if sxptype == 1:  # SYMSXP: name is a CHARSXP; symbols go in the ref table
            name = self._item()
            self.refs.append(name)
            return name
        if sxptype in (2, 3, 5, 6, 17):  # pairlist-like: LISTSXP, CLOSXP, PROMSXP, LANGSXP, DOTSXP
            self._attributes(has_attr)
            tag = self._item() if has_tag else None
            car = self._item()
            cdr = self._item()
            out = [(tag, car)]
            if isinstance(cdr, list):
                out.extend(cdr)
            return out
        if sxptype in (16, 19, 20):  # STRSXP, VECSXP, EXPRSXP
            n = self._length()
            value = [self._item() for _ in range(n)]
        elif sxptype in (10, 13):  # LGLSXP, INTSXP
            n = self._length()
            value = list(struct.unpack_from(">%di" % n, self.data, self.pos))
            self.pos += 4 * n
        elif sxptype == 14:  # REALSXP
            n = self._length()
            value = list(struct.unpack_from(">%dd" % n, self.data, self.pos))
            self.pos += 8 * n
        elif sxptype == 24:  # RAWSXP
            value = self._bytes(self._length())
        else:
            raise ValueError("unsupported R object type %d at byte %d" % (sxptype, self.pos))
        attrs = self._attributes(has_attr)
        return RValue(value, attrs) if attrs else value


def r_unserialize(data):
    return RXdrReader(data).read()


def read_r_lazyload(rdx_path, rdb_path):
    """Return {name: object} for every variable of an R lazy-load database."""
    with open(rdx_path, "rb") as f:
        raw = f.read()
    index = r_unserialize(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else zlib.decompress(raw[4:]))
    parts = dict(zip(index.attributes["names"], index.value))
    variables = parts["variables"]
    if parts.get("compressed") not in ([1], [True]):
        raise ValueError("only zlib-compressed lazy-load databases are supported")
    with open(rdb_path, "rb") as f:
        rdb = f.read()
    out = {}
    for name, (offset, length) in zip(variables.attributes["names"], variables.value):
        blob = rdb[offset:offset + length]
        (expected,) = struct.unpack(">I", blob[:4])
        payload = zlib.decompress(blob[4:])
        if len(payload) != expected:
            raise ValueError("length mismatch in %s for %s" % (rdb_path, name))
        out[name] = r_unserialize(payload)
    return out


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def tidy(text):
    """Normalise newlines, drop trailing spaces per line and blank edges."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def text_bytes(docs):
    return sum(len(d["text"].encode("utf-8")) for d in docs)


# Characters that json.dumps(ensure_ascii=False) leaves raw but that some
# line splitters (e.g. Python's str.splitlines) treat as line breaks.
_LINE_BREAK_LIKE = {"\u0085": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def write_jsonl_gz(path, docs):
    ids = set()
    tmp = path + ".tmp"
    with open(tmp, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz:
            for doc in docs:
                if doc["id"] in ids:
                    raise ValueError("duplicate id %r in %s" % (doc["id"], path))
                ids.add(doc["id"])
                if not doc["text"].strip():
                    raise ValueError("empty text for %r in %s" % (doc["id"], path))
                line = json.dumps({"id": doc["id"], "text": doc["text"]},
                                  ensure_ascii=False, separators=(",", ":"))
                for ch, esc in _LINE_BREAK_LIKE.items():
                    line = line.replace(ch, esc)
                gz.write(line.encode("utf-8") + b"\n")
    os.replace(tmp, path)


# ---------------------------------------------------------------------------
# fiction: chapters of the six Jane Austen novels (r-cran-janeaustenr)
# ---------------------------------------------------------------------------

# Publication order, as austen_books() uses.
NOVELS = ["sensesensibility", "prideprejudice", "mansfieldpark",
          "emma", "northangerabbey", "persuasion"]
CHAPTER_RE = re.compile(r"^\s*chapter\s+([0-9]+|[ivxlc]+)\.?\s*$", re.IGNORECASE)
VOLUME_RE = re.compile(r"^\s*volume\s+([0-9]+|[ivxlc]+)\.?\s*$", re.IGNORECASE)
# Northanger Abbey ends with a modern editor's note that is not Austen's text.
EDITORIAL_TAIL = {"northangerabbey": "A NOTE ON THE TEXT"}


def build_fiction(src):
    base = os.path.join(src, "r-cran-janeaustenr/usr/lib/R/site-library/janeaustenr/data")
    novels = read_r_lazyload(os.path.join(base, "Rdata.rdx"), os.path.join(base, "Rdata.rdb"))
    if sorted(novels) != sorted(NOVELS):
        raise ValueError("unexpected janeaustenr objects: %s" % sorted(novels))
    docs = []
    for name in NOVELS:
        lines = novels[name]
        if isinstance(lines, RValue):
            lines = lines.value
        lines = ["" if line is None else line for line in lines]
        tail = EDITORIAL_TAIL.get(name)
        if tail is not None:
            lines = lines[:lines.index(tail)]
        chapters = []
        current = None  # front matter before the first chapter heading is dropped
        for line in lines:
            if CHAPTER_RE.match(line):
                current = []
                chapters.append(current)
            elif VOLUME_RE.match(line):
                current = None  # volume headings and their spacing end a chapter
            elif current is not None:
                current.append(line)
        for number, body in enumerate(chapters, start=1):
            docs.append({"id": "%s/ch%03d" % (name, number), "text": tidy("\n".join(body))})
    return docs


# ---------------------------------------------------------------------------
# scripture: chapters of the King James Bible (bible-kjv + bible-kjv-text)
# ---------------------------------------------------------------------------

BOOKS = [
    "Genesis", "Exodus", "Leviticus", "Numbers", "Deuteronomy", "Joshua",
    "Judges", "Ruth", "1 Samuel", "2 Samuel", "1 Kings", "2 Kings",
    "1 Chronicles", "2 Chronicles", "Ezra", "Nehemiah", "Esther", "Job",
    "Psalms", "Proverbs", "Ecclesiastes", "Song of Solomon", "Isaiah",
    "Jeremiah", "Lamentations", "Ezekiel", "Daniel", "Hosea", "Joel", "Amos",
    "Obadiah", "Jonah", "Micah", "Nahum", "Habakkuk", "Zephaniah", "Haggai",
    "Zechariah", "Malachi",
    "Matthew", "Mark", "Luke", "John", "Acts", "Romans", "1 Corinthians",
    "2 Corinthians", "Galatians", "Ephesians", "Philippians", "Colossians",
    "1 Thessalonians", "2 Thessalonians", "1 Timothy", "2 Timothy", "Titus",
    "Philemon", "Hebrews", "James", "1 Peter", "2 Peter", "1 John", "2 John",
    "3 John", "Jude", "Revelation",
]
VERSE_RE = re.compile(r"^([1-3]?[A-Za-z]+)(\d+):(\d+) (.*)$")


def build_scripture(src):
    program = os.path.join(src, "bible-kjv/usr/bin/bible")
    datadir = os.path.join(src, "bible-kjv-text/usr/lib")
    # -f turns pretty-printing off: one "Abbrev<chapter>:<verse> text" line per verse.
    out = subprocess.run([program, "-f", "-p", datadir, "Gen1:1-Rev22:21"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         check=True, env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"}).stdout
    chapters = []  # (book index, chapter, [verses])
    abbrevs = []
    for line in out.decode("utf-8").split("\n"):
        if not line.strip():
            continue
        m = VERSE_RE.match(line)
        if not m:
            raise ValueError("unexpected line from bible: %r" % line[:80])
        abbrev, chapter, verse, text = m.group(1), int(m.group(2)), int(m.group(3)), m.group(4)
        if not abbrevs or abbrevs[-1] != abbrev:
            abbrevs.append(abbrev)
        key = (len(abbrevs) - 1, chapter)
        if not chapters or chapters[-1][0] != key:
            chapters.append((key, []))
        expected = len(chapters[-1][1]) + 1
        if verse != expected:
            raise ValueError("verse %s %d:%d out of sequence" % (abbrev, chapter, verse))
        chapters[-1][1].append(text.strip())
    if len(abbrevs) != len(BOOKS):
        raise ValueError("expected %d books, bible printed %d" % (len(BOOKS), len(abbrevs)))
    return [{"id": "%s %d" % (BOOKS[b], c), "text": "\n".join(verses)}
            for (b, c), verses in chapters]


# ---------------------------------------------------------------------------
# legal: SPDX licence texts (npm spdx-license-list), near-duplicates removed
# ---------------------------------------------------------------------------

WORD_RE = re.compile(r"\w+")


def shingles(text):
    words = WORD_RE.findall(text.lower())
    if len(words) < SHINGLE_WORDS:
        return {tuple(words)}
    return {tuple(words[i:i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)}


def build_legal(src, report):
    with open(os.path.join(src, "spdx-license-list/spdx-full.json"), encoding="utf-8") as f:
        licences = json.load(f)
    candidates = []
    for spdx_id, entry in licences.items():
        text = tidy(entry.get("licenseText") or "")
        if text:
            candidates.append((spdx_id, text))
    candidates.sort(key=lambda c: c[0])
    kept, kept_shingles, dropped = [], [], []
    for spdx_id, text in candidates:
        sh = shingles(text)
        match = None
        for (kid, _), ksh in zip(kept, kept_shingles):
            inter = len(sh & ksh)
            if inter and inter / (len(sh) + len(ksh) - inter) >= JACCARD_THRESHOLD:
                match = kid
                break
        if match is None:
            kept.append((spdx_id, text))
            kept_shingles.append(sh)
        else:
            dropped.append((spdx_id, match))
    report["legal_candidates"] = len(candidates)
    report["legal_candidate_bytes"] = sum(len(t.encode("utf-8")) for _, t in candidates)
    report["legal_files"] = len(licences)
    report["legal_dropped"] = dropped
    return [{"id": i, "text": t} for i, t in kept]


# ---------------------------------------------------------------------------
# computing: FOLDOC entries (dict-foldoc)
# ---------------------------------------------------------------------------

DICTD_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def dictd_number(s):
    value = 0
    for ch in s:
        value = value * 64 + DICTD_B64.index(ch)
    return value


def build_computing(src, report):
    base = os.path.join(src, "dict-foldoc/usr/share/dictd")
    with gzip.open(os.path.join(base, "foldoc.dict.dz"), "rb") as f:
        data = f.read()
    index = []
    with open(os.path.join(base, "foldoc.index"), encoding="utf-8") as f:
        for line in f:
            headword, offset, length = line.rstrip("\n").split("\t")
            index.append((headword, dictd_number(offset), dictd_number(length)))
    # Entries appended by the Debian packager (Dictionary.debian) carry a
    # different licence from FOLDOC proper; they sit at the end of the data.
    debian_start = min((o for h, o, _ in index if h == "dictionary.debian"), default=None)
    if debian_start is None:
        raise ValueError("Dictionary.debian marker not found in foldoc.index")
    # Several headwords (aliases, acronyms) point at the same entry: one
    # document per distinct (offset, length) span, in index order.
    spans = {}
    order = []
    for headword, offset, length in index:
        if headword.startswith("00-database") or headword.startswith("00database"):
            continue
        if offset >= debian_start:
            continue
        if (offset, length) not in spans:
            spans[(offset, length)] = []
            order.append((offset, length))
        spans[(offset, length)].append(headword)
    docs, used, total = [], set(), 0
    for offset, length in order:
        text = tidy(data[offset:offset + length].decode("utf-8"))
        if not text:
            continue
        # id: the first line of the entry's heading block (original case)
        # that is one of the index headwords for this entry.
        heading = text.split("\n\n", 1)[0].split("\n")
        names = set(spans[(offset, length)])
        doc_id = next((h.strip() for h in heading if h.strip().lower() in names),
                      spans[(offset, length)][0])
        base_id, n = doc_id, 2
        while doc_id in used:
            doc_id = "%s (%d)" % (base_id, n)
            n += 1
        size = len(text.encode("utf-8"))
        if total + size > COMPUTING_CAP:
            break
        used.add(doc_id)
        total += size
        docs.append({"id": doc_id, "text": text})
    report["computing_entries"] = len(order)
    return docs


# ---------------------------------------------------------------------------
# code: Python 3.11 standard library modules (libpython3.11-stdlib)
# ---------------------------------------------------------------------------

def build_code(src, report):
    root = os.path.join(src, "libpython3.11-stdlib/usr/lib/python3.11")
    paths = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames:
            full = os.path.join(dirpath, name)
            if name.endswith(".py") and os.path.isfile(full) and not os.path.islink(full):
                paths.append(os.path.relpath(full, root).replace(os.sep, "/"))
    paths.sort()
    docs, total, skipped = [], 0, []
    for rel in paths:
        with open(os.path.join(root, rel), "rb") as f:
            raw = f.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            skipped.append((rel, "not UTF-8"))
            continue
        text = text.replace("\r\n", "\n")
        if not text.strip():
            skipped.append((rel, "empty"))
            continue
        size = len(text.encode("utf-8"))
        if total + size > CODE_CAP:
            skipped.append((rel, "over size cap"))
            break
        total += size
        docs.append({"id": rel, "text": text})
    report["code_files"] = len(paths)
    report["code_skipped"] = skipped
    return docs


# ---------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------

def summarise(name, docs):
    held = sum(1 for i in range(len(docs)) if i % HOLDOUT_EVERY == HOLDOUT_OFFSET)
    return "%-10s docs=%6d  text_bytes=%9d  held_out=%4d" % (name, len(docs), text_bytes(docs), held)


def cmd_build(src, out):
    os.makedirs(out, exist_ok=True)
    report = {}
    builders = {
        "fiction": lambda: build_fiction(src),
        "scripture": lambda: build_scripture(src),
        "legal": lambda: build_legal(src, report),
        "computing": lambda: build_computing(src, report),
        "code": lambda: build_code(src, report),
    }
    for name in DISTRIBUTIONS:
        docs = builders[name]()
        write_jsonl_gz(os.path.join(out, name + ".jsonl.gz"), docs)
        print(summarise(name, docs) + "  gz_bytes=%d" % os.path.getsize(os.path.join(out, name + ".jsonl.gz")))
    print("legal: %d licences in spdx-full.json, %d with text (%d bytes); %d near-duplicates removed"
          % (report["legal_files"], report["legal_candidates"],
             report["legal_candidate_bytes"], len(report["legal_dropped"])))
    print("computing: %d distinct FOLDOC entries before the size cap" % report["computing_entries"])
    print("code: %d .py files; skipped: %s" % (report["code_files"], report["code_skipped"] or "none"))
    if os.environ.get("BUILD_CORPORA_VERBOSE"):
        for dropped, kept in report["legal_dropped"]:
            print("  legal near-duplicate: %s ~ %s" % (dropped, kept))


def cmd_check(out):
    ok = True
    for name in DISTRIBUTIONS:
        path = os.path.join(out, name + ".jsonl.gz")
        docs, ids = [], set()
        with gzip.open(path, "rb") as f:
            for n, raw in enumerate(f, start=1):
                obj = json.loads(raw.decode("utf-8"))
                if set(obj) != {"id", "text"} or not isinstance(obj["id"], str) \
                        or not isinstance(obj["text"], str) or not obj["text"].strip() \
                        or not obj["id"]:
                    print("%s line %d: bad document" % (path, n))
                    ok = False
                if obj.get("id") in ids:
                    print("%s line %d: duplicate id %r" % (path, n, obj["id"]))
                    ok = False
                ids.add(obj.get("id"))
                docs.append(obj)
        if len(docs) < 2 * HOLDOUT_EVERY:
            print("%s: only %d documents" % (path, len(docs)))
            ok = False
        print(summarise(name, docs) + "  gz_bytes=%d" % os.path.getsize(path))
    return ok


def main(argv):
    if len(argv) >= 2 and argv[1] == "build":
        args = dict(zip(argv[2::2], argv[3::2]))
        cmd_build(args["--src"], args["--out"])
        return 0
    if len(argv) == 3 and argv[1] == "check":
        return 0 if cmd_check(argv[2]) else 1
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
