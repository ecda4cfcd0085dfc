#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""Holds docs/treetrace.8 to the binary it documents.

usage: check_man.py PAGE TREETRACE CHECK...

CHECK is one or more of:
  warnings      `man --warnings` and `groff -ww` say nothing about the page
  options       the options of `treetrace --help` are those of OPTIONS, both ways
  placeholders  each option's argument name in --help is the one in OPTIONS
  defaults      each default --help states is stated in the option's entry
  records       every record kind has an entry under OUTPUT
  version       .TH names the version `treetrace --version` prints

The page's option entries are `.TP` paragraphs whose tag line holds the
option in bold and its argument after it, e.g.
  .TP
  \\fB\\-\\-listen\\fR [\\fIADDR\\fR:]\\fIPORT\\fR
"""

import os
import re
import shutil
import subprocess
import sys

# CLI11 names an option's argument by its C++ type unless the option sets
# a type_name; the page says what the value means instead.
GENERIC_TYPES = {"TEXT", "UINT", "INT", "FLOAT", "NUMBER", "BOOLEAN", "ENUM"}
NUMERIC_TYPES = {"UINT", "INT", "FLOAT", "NUMBER"}
NUMERIC_PLACEHOLDER = "N"
# Report records, beside the event kinds --events lists.
REPORT_RECORDS = {"tree", "group", "lost", "summary"}


class Failure(Exception):
    pass


# --- the page -------------------------------------------------------------

def read_page(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def sections(lines):
    """{".SH name": [lines]}, and .SS names inside as ("SS", name) markers."""
    out, name = {}, None
    for line in lines:
        m = re.match(r'^\.SH\s+"?([^"]*)"?\s*$', line)
        if m:
            name = m.group(1).strip()
            out[name] = []
        elif name is not None:
            out[name].append(line)
    return out


def split_args(text):
    """A macro's arguments, as troff splits them (quotes group words)."""
    args, cur, quoted, i = [], "", False, 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            cur += text[i:i + 2]
            i += 2
            continue
        if c == '"':
            if quoted and i + 1 < len(text) and text[i + 1] == '"':
                cur += '"'
                i += 2
                continue
            quoted = not quoted
        elif c in " \t" and not quoted:
            if cur:
                args.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    if cur:
        args.append(cur)
    return args


FONT_MACROS = {"B": "B", "I": "I", "BR": "BR", "RB": "RB", "BI": "BI", "IB": "IB", "IR": "IR", "RI": "RI"}


def styled(line):
    """A line of the page as [(char, font)], font one of R, B, I."""
    m = re.match(r"^\.(\w+)\s*(.*)$", line)
    if m and m.group(1) in FONT_MACROS:
        fonts, args = FONT_MACROS[m.group(1)], split_args(m.group(2))
        if len(fonts) == 1:
            text = " ".join(args)
            return inline(text, fonts)
        out = []
        for i, arg in enumerate(args):
            out += inline(arg, fonts[i % 2])
        return out
    if line.startswith("."):
        return []
    return inline(line, "R")


ESCAPES = {"-": "-", "e": "\\", "&": "", " ": " ", "~": " ", "|": "", "^": "", "%": ""}


def inline(text, font):
    out, i, base = [], 0, font
    while i < len(text):
        c = text[i]
        if c != "\\" or i + 1 >= len(text):
            out.append((c, font))
            i += 1
            continue
        e = text[i + 1]
        if e == "f":
            if text[i + 2:i + 3] == "[":
                end = text.index("]", i)
                name = text[i + 3:end]
                i = end + 1
            else:
                name = text[i + 2:i + 3]
                i += 3
            font = {"B": "B", "I": "I", "R": "R", "P": base, "": "R"}.get(name, "R")
        elif e == "(":
            out.append(("?", font))  # a special character such as \(em
            i += 4
        elif e in ESCAPES:
            out += [(ch, font) for ch in ESCAPES[e]]
            i += 2
        else:
            out.append((e, font))
            i += 2
    return out


OPTION_RE = re.compile(r"(?<![\w-])(--?[A-Za-z0-9][A-Za-z0-9-]*)")


def tag_options(tag):
    """[(option, placeholder)] of one .TP tag: bold options, then what follows."""
    text = "".join(c for c, _ in tag)
    fonts = [f for _, f in tag]
    found = [m for m in OPTION_RE.finditer(text) if all(f == "B" for f in fonts[m.start():m.end()])]
    out = []
    for n, m in enumerate(found):
        end = found[n + 1].start() if n + 1 < len(found) else len(text)
        placeholder = text[m.end():end].strip()
        placeholder = re.sub(r",$", "", placeholder).strip()
        out.append((m.group(1), placeholder))
    return out


def entries(lines):
    """[(tag line, [(char, font)] tag, [body lines])] of the .TP paragraphs."""
    out, i = [], 0
    while i < len(lines):
        if lines[i].startswith(".TP"):
            j = i + 1
            while j < len(lines) and lines[j].startswith('.\\"'):
                j += 1
            if j >= len(lines):
                break
            k = j + 1
            while k < len(lines) and not re.match(r"^\.(TP|SS|SH|PP|P|LP)\b", lines[k]):
                k += 1
            out.append((lines[j], styled(lines[j]), lines[j + 1:k]))
            i = k
        else:
            i += 1
    return out


def plain(lines):
    return " ".join("".join(c for c, _ in styled(line)) for line in lines)


def page_options(page_lines):
    """{option: (placeholder, body text)} from the OPTIONS section."""
    secs = sections(page_lines)
    if "OPTIONS" not in secs:
        raise Failure("the page has no .SH OPTIONS section")
    documented, twice = {}, []
    for line, tag, body in entries(secs["OPTIONS"]):
        for opt, placeholder in tag_options(tag):
            if opt in documented:
                twice.append(opt)
            documented[opt] = (placeholder, plain(body), line)
    if twice:
        raise Failure("documented more than once in OPTIONS: " + ", ".join(sorted(set(twice))))
    return documented


# --- the binary -----------------------------------------------------------

def run(binary, *args):
    p = subprocess.run([binary, *args], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise Failure(f"`{binary} {' '.join(args)}` exited {p.returncode}: {p.stderr.strip()}")
    return p.stdout


def help_options(binary):
    """{option: spec} from --help, spec the raw text CLI11 prints after it."""
    text = run(binary, "--help")
    lines = text.splitlines()
    try:
        start = next(i for i, l in enumerate(lines) if l.strip() == "Options:")
    except StopIteration:
        raise Failure("--help has no 'Options:' section:\n" + text)
    out = {}
    for line in lines[start + 1:]:
        if not line.strip():
            break
        m = re.match(r"^\s+(-\S*)(.*)$", line)
        if not m:
            continue  # a description on its own line
        # One space before an argument name, two or more before the description.
        rest = m.group(2)
        spec = "" if re.match(r"^(\s{2,}|$)", rest) else re.split(r"\s{2,}", rest.strip(), maxsplit=1)[0]
        for name in m.group(1).split(","):
            out[name] = spec
    if not out:
        raise Failure("no options found in --help:\n" + text)
    return out, text


def help_descriptions(text):
    """{option: description} from --help (the description may wrap below)."""
    out, current = {}, None
    lines = text.splitlines()
    start = next(i for i, l in enumerate(lines) if l.strip() == "Options:")
    for line in lines[start + 1:]:
        if not line.strip():
            break
        m = re.match(r"^\s+(-\S*)(.*)$", line)
        if m:
            names = m.group(1).split(",")
            rest = m.group(2)
            if re.match(r"^\s{2,}", rest):
                desc = rest.strip()
            else:
                parts = re.split(r"\s{2,}", rest.strip(), maxsplit=1)
                desc = parts[1] if len(parts) > 1 else ""
            current = names
            for n in names:
                out[n] = desc
        elif current:
            for n in current:
                out[n] = (out[n] + " " + line.strip()).strip()
    return out


def parse_spec(spec):
    """A --help spec as (type, validator, default, values).

    '--ringbuf-size UINT:SIZE [b, kb(=1024b), ...]:(...)=4194304' gives
    ('UINT', 'SIZE [b, ...', '4194304', None); 'TEXT:{text,json}' gives
    values ['text', 'json'].
    """
    spec = re.sub(r"\s*\.\.\.$", "", spec.strip())  # repeatable
    default = None
    m = re.search(r"=([^\s=\])]+)$", spec)
    if m:
        default, spec = m.group(1), spec[:m.start()]
    m = re.match(r"^([A-Z][A-Z0-9_-]*):(.*)$", spec)
    type_name, validator = (m.group(1), m.group(2)) if m else (spec, "")
    values = None
    vm = re.match(r"^\{([^}]*)\}", validator)
    if vm:
        values = vm.group(1).split(",")
    return type_name, validator, default, values


def expected_placeholder(spec):
    """What the page must call the argument, or None for a flag."""
    type_name, validator, _, values = parse_spec(spec)
    if not type_name:
        return None
    if type_name not in GENERIC_TYPES:
        return type_name  # the project's own name: PATTERN, [ADDR:]PORT
    if values:
        return "|".join(values)
    if re.match(r"^(UINT|INT|FLOAT|NUMBER) in \[", validator):
        return NUMERIC_PLACEHOLDER
    m = re.match(r"^([A-Z][A-Z0-9_-]*)(\s*\[|\s*:|$)", validator)
    if m and m.group(1) not in GENERIC_TYPES:
        return m.group(1)  # a named validator: DURATION, SIZE
    if type_name in NUMERIC_TYPES:
        return NUMERIC_PLACEHOLDER
    return type_name


def normalize_alternatives(p):
    return "|".join(sorted(p.split("|"))) if "|" in p else p


SIZE_SUFFIX = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def stated_defaults(body):
    """Numbers the entry states after the word 'default', sizes expanded."""
    out = set()
    for m in re.finditer(r"default([^)(;]*)", body):
        for n in re.finditer(r"(?<![\w.])(\d+)([KMGT]?)(?![\w.])", m.group(1)):
            out.add(int(n.group(1)) * SIZE_SUFFIX[n.group(2)])
    return out


# --- the checks -----------------------------------------------------------

def check_warnings(page, _binary):
    problems = []
    man = shutil.which("man")
    groff = shutil.which("groff")
    if not man or not groff:
        raise Failure("man or groff is not installed: scripts/setup-deps.sh installs man-db and groff-base")
    env = dict(os.environ, MANWIDTH="80")
    p = subprocess.run([man, "--warnings", "-l", page], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True, env=env, timeout=60)
    if p.returncode != 0 or p.stderr.strip():
        problems.append(f"man --warnings -l {page} (exit {p.returncode}):\n{p.stderr}")
    p = subprocess.run([groff, "-man", "-ww", "-z", page], capture_output=True, text=True, timeout=60)
    if p.returncode != 0 or p.stderr.strip():
        problems.append(f"groff -man -ww -z {page} (exit {p.returncode}):\n{p.stderr}")
    if problems:
        raise Failure("\n".join(problems))


def check_options(page, binary):
    in_help, _ = help_options(binary)
    in_page = page_options(read_page(page))
    missing = sorted(set(in_help) - set(in_page))
    extra = sorted(set(in_page) - set(in_help))
    if missing or extra:
        msg = ["the options of `treetrace --help` and of the man page's OPTIONS differ:"]
        for opt in missing:
            msg.append(f"  + {opt} {in_help[opt]}".rstrip() + "    in --help, not in docs/treetrace.8: add a .TP entry")
        for opt in extra:
            msg.append(f"  - {opt}    in docs/treetrace.8 ({in_page[opt][2]!r}), not in --help")
        raise Failure("\n".join(msg))


def check_placeholders(page, binary):
    in_help, _ = help_options(binary)
    in_page = page_options(read_page(page))
    msg = []
    for opt, spec in sorted(in_help.items()):
        if opt not in in_page:
            continue  # the options check reports it
        want = expected_placeholder(spec)
        have = in_page[opt][0]
        if want is None:
            if have:
                msg.append(f"  {opt}: --help shows no argument, the page shows {have!r}")
            continue
        if normalize_alternatives(want) != normalize_alternatives(have):
            msg.append(f"  {opt}: --help says {spec!r}, so the page's tag should read "
                       f"'{opt} {want}'; it reads '{opt} {have}'".rstrip())
        _, _, _, values = parse_spec(spec)
        if values:
            body = in_page[opt][1] + " " + have
            absent = [v for v in values if not re.search(r"(?<![\w-])" + re.escape(v) + r"(?![\w-])", body)]
            if absent:
                msg.append(f"  {opt}: the page does not name the value(s) {', '.join(absent)} that --help accepts")
    if msg:
        raise Failure("argument names differ between --help and docs/treetrace.8:\n" + "\n".join(msg))


def check_defaults(page, binary):
    in_help, text = help_options(binary)
    descriptions = help_descriptions(text)
    in_page = page_options(read_page(page))
    msg = []
    for opt, spec in sorted(in_help.items()):
        if opt not in in_page:
            continue
        body = in_page[opt][1]
        _, _, default, _ = parse_spec(spec)
        if default is not None and int(default) not in stated_defaults(body):
            msg.append(f"  {opt}: --help gives the default {default}; its entry does not say 'default {default}'")
        m = re.search(r"\(default:? ([^)]+)\)", descriptions.get(opt, ""))
        if m and (m.group(1) not in body or "default" not in body):
            msg.append(f"  {opt}: --help says '(default {m.group(1)})'; its entry does not give that default")
    if msg:
        raise Failure("defaults differ between --help and docs/treetrace.8:\n" + "\n".join(msg))


def check_records(page, binary):
    in_help, _ = help_options(binary)
    _, _, _, values = parse_spec(in_help.get("--events", ""))
    if not values:
        raise Failure(f"--help gives no list of values for --events: {in_help.get('--events')!r}")
    kinds = (set(values) - {"all", "none"}) | REPORT_RECORDS
    secs = sections(read_page(page))
    if "OUTPUT" not in secs:
        raise Failure("the page has no .SH OUTPUT section")
    tags = {"".join(c for c, _ in tag).strip() for _, tag, _ in entries(secs["OUTPUT"])}
    missing = sorted(kinds - tags)
    if missing:
        raise Failure("record kinds without a .TP entry under OUTPUT: " + ", ".join(missing))


def check_version(page, binary):
    version = run(binary, "--version").strip()
    th = next((l for l in read_page(page) if l.startswith(".TH ")), None)
    if th is None:
        raise Failure("the page has no .TH line")
    args = split_args(th[4:])
    source = args[3] if len(args) > 3 else ""
    if source != version:
        raise Failure(f".TH names {source!r}, but `treetrace --version` prints {version!r}: "
                      f"update the .TH line (and its date)")


CHECKS = {
    "warnings": check_warnings,
    "options": check_options,
    "placeholders": check_placeholders,
    "defaults": check_defaults,
    "records": check_records,
    "version": check_version,
}


def main(argv):
    if len(argv) < 4 or any(c not in CHECKS for c in argv[3:]):
        sys.stderr.write(__doc__)
        return 2
    page, binary = argv[1], argv[2]
    failed = False
    for name in argv[3:]:
        try:
            CHECKS[name](page, binary)
            print(f"ok: {name}")
        except Failure as e:
            print(f"FAIL: {name}: {e}")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
