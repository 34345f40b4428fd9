#!/usr/bin/env python3
"""Validates XML documents against an XML Schema with lxml (libxml2), as the tests'
independent check of the openTRANS documents the bridge writes (docs/contract/README.md).

    python tools/opentrans/validate.py SCHEMA.xsd FILE.xml...

Prints `VALID <file>` or `INVALID <file>` with each error's line; exits 1 if any file is
invalid. The schema's imports resolve from its own folder; nothing is fetched from the
network and the documents' entities are not expanded.
"""

import sys

from lxml import etree


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    schema_parser = etree.XMLParser(no_network=True)
    schema = etree.XMLSchema(etree.parse(argv[1], schema_parser))
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    failed = 0
    for path in argv[2:]:
        try:
            document = etree.parse(path, parser)
        except etree.XMLSyntaxError as e:
            print(f"INVALID {path}\n  not well formed: {e}")
            failed += 1
            continue
        if schema.validate(document):
            print(f"VALID {path}")
        else:
            failed += 1
            print(f"INVALID {path}")
            for error in schema.error_log:
                print(f"  line {error.line}: {error.message}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
