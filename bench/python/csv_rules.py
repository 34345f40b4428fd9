#!/usr/bin/env python3
"""The PIM import's CSV quality rules in plain Python: a benchmark baseline, not product code.

What a team would otherwise deploy: the per-row work of the Rust import (functions/pim-import)
written with the standard library's csv module, to be run on the same file. It mirrors
contract section 3 and:
- formats/csv.rs: delimiter (`,` `;` or tab) counted outside quotes in the header line;
  UTF-8 with or without BOM, else each byte that is not UTF-8 read as Windows-1252;
  RFC 4180 quoting; blank rows skipped; a row with more fields than the header rejected;
- shared/domain product.rs `validate_product`: sku present and well formed, at least one
  name.<locale>, GTIN check digit (8/12/13/14 digits), unit a known UN/ECE Rec 20 code,
  weight_kg a non-negative decimal (point or comma), status active/inactive, category split
  on `>`, images on `|`, attr.* columns; every problem a rejection (line, sku, field, code);
- content.rs: the canonical content encoding of a valid row, byte for byte, hashed with
  BLAKE2b-128 (the Rust side uses xxh3-128, which the standard library lacks);
- import.rs `scan_record`/`account` with index.rs: a sku repeated with the same content is
  a duplicate (imported once); with different content, or besides a rejected row, a
  conflict (neither row imported).

Usage: python3 bench/python/csv_rules.py FILE [--rejections]
Prints one JSON line {"rows", "valid", "rejected", "conflicts", "seconds"}; seconds is the
CPU time (process_time) of reading, validating and hashing, as the Rust side measures its own. --rejections lists them on stderr.
"""
import csv
import hashlib
import json
import re
import sys
import time
from decimal import Decimal

MAX_PRODUCT_BYTES = 350 * 1024  # content.rs: larger products are rejected as too_large
csv.field_size_limit(8 * 1024 * 1024)  # formats/mod.rs MAX_RECORD_BYTES
# Rust's str::trim strips Unicode White_Space; str.strip() would also strip \x1c-\x1f.
SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(map(chr, range(0x2000, 0x200B)))
ASCII_SPACE = " \t\n\x0c\r"  # a row of only these (or nothing) is blank
SKU = re.compile(r"[A-Za-z0-9_./:-]{1,64}")
LOCALE = re.compile(r"([A-Za-z]{2,3})(?:[-_]([A-Za-z0-9]{2,3}))?")
DECIMAL = re.compile(r"[+-]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)")  # rust_decimal's FromStr
# The Rust rule (cefact-units) accepts every code of Rec 20 (with the X-prefixed Rec 21 package
# codes) that is not deleted, about 2000. This is the common subset, each checked against
# cefact-units 1.0.0; note PCE is no Rec 20 code, and BX, PK, CT, ... were deleted from it.
UNITS = frozenset("""C62 H87 EA NAR NMP SET PR KT LO DZN ZP KGM GRM MGM TNE LBR ONZ MTR CMT MMT DMT KMT
    LM INH FOT YRD MTK CMK MTQ CMQ LTR MLT CLT HLT GLL HUR MIN SEC DAY KWH MWH WTT KMH
    XBX XPK XCT XBG XBO XCA XCS XPA XPX XPL XRO XSA""".split())
DELETED_UNITS = frozenset("BX PK CT RO PA BG CS DR BO CA TU ST PL SA KTM".split())
VERSION, TEXT, END = "pim-content-2\udcff", "\udcff", "\udcfe"  # encode to the bytes FF and FE
# Non-UTF-8 bytes arrive as U+DC80..U+DCFF (surrogateescape); read them as Windows-1252,
# whose five unassigned bytes map to U+0080..U+009F as encoding_rs does.
CP1252 = {0xDC00 + b: bytes([b]).decode("cp1252", "ignore") or chr(b) for b in range(0x80, 0x100)}


class Plan:
    """Where the header puts each field, worked out once per file (formats/csv.rs `Plan`)."""

    def __init__(self, header):
        self.width = len(header)
        none = self.width  # each row is padded with one empty field: absent columns point there
        fields = ["sku", "gtin", "brand", "category", "unit", "weight_kg", "images", "status"]
        single = dict.fromkeys(fields, none)
        names, descriptions, attributes, self.bad_locales = {}, {}, {}, []
        for i, name in enumerate(h.strip(SPACE) for h in header):
            key = name.lower() if name.isascii() else name
            key = "gtin" if key == "ean" else key
            prefix, dot, rest = name.partition(".")
            if key in single:
                single[key] = i  # a later column overrides an earlier one
            elif prefix in ("name", "description") and dot:
                m = LOCALE.fullmatch(rest)
                if m is None:
                    self.bad_locales.append((prefix != "name", i, name))
                    continue
                locale = m[1].lower() + ("-" + m[2].upper() if m[2] else "")
                (names if prefix == "name" else descriptions).setdefault(locale, []).insert(0, i)
            elif prefix == "attr" and dot:
                attributes.setdefault(rest.strip(SPACE), []).append(i)
        if single["sku"] == none:
            raise SystemExit("the header has no sku column")
        self.bad_locales.sort()  # names' before descriptions', as validate_product reports them
        (self.sku, self.gtin, self.brand, self.category,
         self.unit, self.weight, self.images, self.status) = single.values()
        # Maps in key order; names and descriptions keep the last non-empty column (listed last first).
        self.names, self.descriptions = sorted(names.items()), sorted(descriptions.items())
        self.attributes = sorted(attributes.items())
        self.padding = [""] * (self.width + 1)
        self.overhead = 1024 + 6 * sum(map(len, header))  # keys and JSON syntax, for the size bound


def detect_delimiter(head):
    """The delimiter counted most often outside quotes in the header line (Rust's `max_by_key`
    keeps the last maximum: on a tie tab, then `;`, then `,`)."""
    counts, quoted = {"\t": 0, ";": 0, ",": 0}, False
    for part in head.split('"'):
        if not quoted:
            part, newline, _ = part.partition("\n")
            for d in counts:
                counts[d] += part.count(d)
            if newline:
                break
        quoted = not quoted
    return max(counts, key=counts.get)


def gtin_problem(gtin):
    if len(gtin) not in (8, 12, 13, 14) or not (gtin.isascii() and gtin.isdigit()):
        return "invalid_gtin", f'"{gtin}" is not a GTIN (8, 12, 13 or 14 digits)'
    # GS1: weights 3, 1, 3, ... from the rightmost digit before the check digit.
    expected = -(3 * sum(map(int, gtin[-2::-2])) + sum(map(int, gtin[-3::-2]))) % 10
    if expected != int(gtin[-1]):
        return "gtin_check_digit", f"GTIN {gtin} has check digit {gtin[-1]}, expected {expected}"
    return None


def first_text(f, columns):
    for i in columns:
        if f[i]:
            return f[i]
    return ""


def check_row(p, row):
    """The quality rules over one row: (trimmed sku, content encoding or None, problems)."""
    f = [x.strip(SPACE) for x in row]
    f += p.padding[len(f):]
    problems = []
    sku, gtin, unit, weight, status = f[p.sku], f[p.gtin], f[p.unit], f[p.weight], f[p.status]
    if not sku:
        problems.append(("sku", "missing_field", "sku is required"))
    elif not SKU.fullmatch(sku):
        too_long = len(sku.encode("utf-8", "surrogateescape")) > 64
        problems.append(("sku", "too_long", "sku is longer than 64 characters") if too_long else
                        ("sku", "invalid_character", "sku allows ASCII letters, digits and - _ . / :"))
    if gtin and (problem := gtin_problem(gtin)):
        problems.append(("gtin", *problem))
    bad_locale = False
    for _, i, field in p.bad_locales:
        if f[i]:
            bad_locale = True
            locale = field.partition(".")[2]
            problems.append((field, "invalid_locale", f'"{locale}" is not a locale such as de or de-DE'))
    names = [(locale, text) for locale, columns in p.names if (text := first_text(f, columns))]
    if not names and not bad_locale:
        problems.append(("name", "missing_name", "at least one name is required"))
    if unit in DELETED_UNITS:
        problems.append(("unit", "deleted_unit", f'"{unit}" was removed from UN/ECE Rec 20'))
    elif unit and unit not in UNITS:
        problems.append(("unit", "unknown_unit", f'"{unit}" is not a UN/ECE Rec 20 unit code'))
    if weight:
        number = weight.replace(",", ".")  # a decimal comma is common in European exports
        if not DECIMAL.fullmatch(number):
            problems.append(("weight_kg", "invalid_number", f'"{weight}" is not a number'))
        elif (value := Decimal(number.replace("_", ""))) < 0:
            problems.append(("weight_kg", "negative", "weight_kg must not be negative"))
        else:
            weight = format(value.normalize(), "f") if value else "0"
    status = status.lower()
    if status not in ("", "active", "inactive"):
        problems.append(("status", "invalid_status", f'"{f[p.status]}" is neither active nor inactive'))
    if problems:
        return sku, None, problems
    descriptions = [(locale, text) for locale, columns in p.descriptions
                    if (text := first_text(f, columns))]
    brand, category, images = f[p.brand], f[p.category].split(">"), f[p.images].split("|")
    category = [s for s in (s.strip(SPACE) for s in category) if s]
    images = [s for s in (s.strip(SPACE) for s in images) if s]
    # An attribute given in several columns keeps every value, joined with `|`.
    attributes = [(key, "|".join(values)) for key, columns in p.attributes
                  if (values := [f[i] for i in columns if f[i]])]
    if 6 * sum(map(len, f)) + p.overhead > MAX_PRODUCT_BYTES:
        product = {"sku": sku, "gtin": gtin or None, "names": dict(names),
                   "descriptions": dict(descriptions), "brand": brand or None, "category": category,
                   "unit": unit or None, "weight_kg": weight or None, "images": images,
                   "status": status or "active", "attributes": dict(attributes)}
        size = len(json.dumps(product, ensure_ascii=False, separators=(",", ":")).encode())
        if size > MAX_PRODUCT_BYTES:
            message = f"the product takes {size} bytes, more than the {MAX_PRODUCT_BYTES} allowed"
            return sku, None, [("-", "too_large", message)]
    # content.rs: each text followed by FF, an absent optional text or the end of a list FE.
    parts = [VERSION, sku, TEXT, gtin + TEXT if gtin else END]
    for pairs in (names, descriptions):
        parts += [f"{key}{TEXT}{text}{TEXT}" for key, text in pairs]
        parts.append(END)
    parts += [brand + TEXT if brand else END, *(s + TEXT for s in category), END,
              unit + TEXT if unit else END, weight + TEXT if weight else END,
              *(s + TEXT for s in images), END, (status or "active") + TEXT]
    parts += [f"{key}{TEXT}{value}{TEXT}" for key, value in attributes]
    parts.append(END)
    return sku, "".join(parts).encode("utf-8", "surrogateescape"), None


def scan(path, errors):
    """Reads and checks the whole file; returns the counts and the rejections."""
    rows = valid = rejected = conflicts = 0
    rejections = []
    skus = {}  # sku -> (first line, content digest or None if rejected, whether it has a problem)
    with open(path, "rb") as raw:
        if raw.read(2) in (b"\xff\xfe", b"\xfe\xff"):
            raise SystemExit("the file is UTF-16; export it as UTF-8 (or Windows-1252)")
    with open(path, encoding="utf-8-sig", errors=errors, newline="") as file:
        delimiter = detect_delimiter(file.read(64 * 1024))  # the reader's first buffer
        file.seek(0)
        reader = csv.reader(file, delimiter=delimiter)
        fix = errors == "surrogateescape"
        header = next(reader, None)
        if not header:
            raise SystemExit("the file is empty (no header row)")
        p = Plan([h.translate(CP1252) for h in header] if fix else header)
        end = reader.line_num
        for row in reader:
            line, end = end + 1, reader.line_num  # a record starts after the previous one ends
            if not "".join(row).strip(ASCII_SPACE):
                continue
            rows += 1
            if fix:
                row = [x.translate(CP1252) for x in row]
            if len(row) > p.width:
                sku = row[p.sku].strip(SPACE)
                message = f"{len(row)} fields, the header has {p.width}"
                digest, problems = None, [("-", "too_many_fields", message)]
            else:
                sku, encoding, problems = check_row(p, row)
                digest = encoding and hashlib.blake2b(encoding, digest_size=16).digest()
            if problems:
                rejected += 1
                rejections += [(line, sku or None, *problem) for problem in problems]
                if not SKU.fullmatch(sku):
                    continue  # no readable sku: nothing to compare with other rows
            else:
                valid += 1
            seen = skus.get(sku)
            if seen is None:
                skus[sku] = (line, digest, digest is None)
                continue
            first_line, content, problem = seen
            if digest is not None and not problem and digest == content:
                valid -= 1  # an identical repeat: imported once (a warning), not counted again
                continue
            skus[sku] = (first_line, content, True)
            if digest is not None:  # a valid row besides a different or rejected one
                valid, rejected, conflicts = valid - 1, rejected + 1, conflicts + 1
                message = f"sku {sku} appears with different content on lines {first_line} and {line}"
                rejections.append((line, sku, "sku", "conflict", message))
            if not problem:  # the first row had counted as valid: it is not imported either
                valid, rejected, conflicts = valid - 1, rejected + 1, conflicts + 1
                message = f"sku {sku} conflicts with line {line}; neither row is imported"
                rejections.append((first_line, sku, "sku", "conflict", message))
    return {"rows": rows, "valid": valid, "rejected": rejected, "conflicts": conflicts}, rejections


def main():
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    start = time.process_time()
    try:
        try:
            counts, rejections = scan(sys.argv[1], "strict")
        except UnicodeDecodeError:  # not UTF-8: read again, the other bytes as Windows-1252
            counts, rejections = scan(sys.argv[1], "surrogateescape")
    except csv.Error as error:
        raise SystemExit(f"the file cannot be read: {error}")
    counts["seconds"] = round(time.process_time() - start, 4)
    print(json.dumps(counts))
    if "--rejections" in sys.argv[2:]:
        for line, sku, field, code, message in sorted(rejections, key=lambda r: r[0]):
            rejection = {"line": line, "sku": sku, "field": field, "code": code, "message": message}
            print(json.dumps(rejection), file=sys.stderr)


if __name__ == "__main__":
    main()
