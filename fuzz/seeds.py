#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target under fuzz/seeds/<target>/: small valid
inputs and edge cases, written here by hand (docs/fuzzing.md). Deterministic: running it
again rewrites the same files. Files it does not name (crash regressions added by hand,
`crash-*`) are left alone.

    python3 fuzz/seeds.py
"""

import gzip
import json
import os

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")
NOW = 1795687200  # 2026-11-26T10:00:00Z, the targets' fixed now


def write(target, name, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    folder = os.path.join(ROOT, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def gz(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return gzip.compress(data, mtime=0)


def compact(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# ---------------------------------------------------------------- webhook bodies

TS = "2026-11-26T10:00:00Z"
STOCK = {"type": "stock.changed", "timestamp": TS, "data": {
    "sku": "A-1", "warehouse": "W1", "available": "12.5", "revision": 7,
    "next_delivery": {"date": "2026-12-01", "quantity": 40}}}
PRICE = {"type": "price.changed", "timestamp": TS, "data": {
    "price_list": "PL1", "sku": "A-1", "currency": "EUR", "revision": 3,
    "valid_from": "2026-01-01", "valid_to": "2026-01-31T23:00:00+01:00",
    "price_unit": "C62", "price_per": 100,
    "tiers": [{"min_qty": 1, "unit_price": "9.90"}, {"min_qty": 10, "unit_price": 8.5}]}}
CUSTOMER = {"type": "customer.changed", "timestamp": TS, "data": {
    "customer_id": "C-1", "name": "Muster GmbH", "revision": "4", "blocked": False,
    "credit_limit": {"amount": "50000", "currency": "EUR"},
    "open_items": {"amount": 1200.5, "currency": "EUR"},
    "payment_terms": "30 days net", "delivery_terms": {"incoterm": "DAP", "place": "Köln"},
    "price_lists": ["CONTRACT-1", "BASE"], "cost_centers": ["CC-10"],
    "approval_rules": [{"above": {"amount": 10000, "currency": "EUR"}, "role": "manager"}]}}
STATUS = {"type": "order.status_changed", "timestamp": TS, "data": {
    "order_id": "SO-1", "status": "shipped", "revision": 2, "erp_order_number": "4500001",
    "tracking": [{"carrier": "DHL", "code": "00340434"}]}}
PLACED = {"type": "order.placed", "timestamp": TS, "data": {
    "order_id": "SO-1", "customer_id": "C-1", "currency": "EUR",
    "placed_at": "2026-11-26T09:59:00Z", "po_number": "PO 4711", "cost_center": "CC-10",
    "buyer": {"user_id": "u1", "email": "buyer@example.com"},
    "approvals": [{"role": "manager", "user_id": "u2", "at": "2026-11-26T09:00:00Z"}],
    "delivery": {"address": {"street": "Hauptstr. 1", "city": "Köln"},
                 "requested_date": "2026-12-01"},
    "lines": [{"line": 1, "sku": "A-1", "quantity": 3, "unit_price": "9.90"},
              {"line": 2, "sku": "B-2", "quantity": "0.5", "unit_price": 120}]}}
EVENTS = {"stock": ("erp", STOCK), "price": ("erp", PRICE), "customer": ("erp", CUSTOMER),
          "status": ("erp", STATUS), "placed": ("shop", PLACED)}


def nested(depth):
    return '{"type":"stock.changed","timestamp":"%s","data":%s1%s}' % (
        TS, "[" * depth, "]" * depth)


# Bodies that are not what they should be: each exercises one check or one parser limit.
ODD_BODIES = {
    "not-json": "{not json",
    "array-root": "[1,2,3]",
    "empty-object": "{}",
    "deep-arrays": nested(300),
    "deep-objects": '{"type":"stock.changed","data":' + '{"a":' * 200 + "1" + "}" * 201,
    "huge-exponent": compact({**STOCK, "data": {**STOCK["data"]}}).replace(
        '"12.5"', "1e999999999"),
    "long-number": compact(STOCK).replace('"12.5"', "9" * 400 + "." + "9" * 400),
    "revision-overflow": compact(STOCK).replace('"revision":7', '"revision":18446744073709551616'),
    "negative-exponent": compact(STOCK).replace('"12.5"', '"1.5e-28"'),
    "duplicate-keys": '{"type":"stock.changed","type":"order.placed","timestamp":"%s","data":%s}'
    % (TS, compact(STOCK["data"])),
    "escapes": compact(CUSTOMER).replace("Muster GmbH", "M\\u00fcster \\ud83d\\ude00 \\\\ \\\"x\\\""),
    "lone-surrogate": compact(CUSTOMER).replace("Muster GmbH", "\\ud800"),
    "noncharacter": compact(CUSTOMER).replace("Muster GmbH", "Muster \uffff GmbH"),
    "control-char": compact(CUSTOMER).replace("Muster GmbH", "Muster\\u0007"),
    "bom": "\ufeff" + compact(STOCK),
    "wrong-source-type": compact(PLACED),
    "unordered-tiers": compact(PRICE).replace('"min_qty":10', '"min_qty":0.5'),
    "duplicate-lines": compact(PLACED).replace('"line":2', '"line":1'),
    "null-data": '{"type":"stock.changed","timestamp":"%s","data":null}' % TS,
    "bad-timestamp": compact(STOCK).replace(TS, "2026-13-45T25:61:00Z"),
    "far-dates": compact(PRICE).replace("2026-01-01", "+262142-12-31").replace(
        "2026-01-31T23:00:00+01:00", "262143-01-01"),
}


def webhook_case(flags, faults=0, headers=(), body=b""):
    if isinstance(body, str):
        body = body.encode("utf-8")
    head = "".join(f"{name}: {value}\n" for name, value in headers)
    return bytes([flags, faults]) + head.encode("utf-8") + b"\n" + body


SIGN, SECOND, SHOP, FILL, METHOD, TWICE, SMALL = 1, 2, 4, 16, 32, 64, 128
PSEUDO_SOURCE = 12
CLAIM_FAILS, IN_FLIGHT, COMPLETE_FAILS, SEND_FAILS, PUT_FAILS, RELEASE_FAILS = 1, 2, 4, 8, 16, 32
VIA_EVENT, BASE64 = 64, 128


def webhook_seeds():
    t = "webhook_intake"
    for name, (source, event) in EVENTS.items():
        flags = SIGN | FILL | (SHOP if source == "shop" else 0)
        write(t, f"signed-{name}", webhook_case(flags, body=compact(event)))
    body = compact(STOCK)
    explicit = [("content-type", "application/json; charset=utf-8"),
                ("webhook-id", "msg_2Lq3W"), ("webhook-timestamp", str(NOW)),
                ("x-correlation-id", "corr-1")]
    write(t, "explicit-headers", webhook_case(SIGN, headers=explicit, body=body))
    write(t, "rotated-secret", webhook_case(SIGN | SECOND | FILL, body=body))
    write(t, "redelivery", webhook_case(SIGN | FILL | TWICE, body=body))
    write(t, "unsigned", webhook_case(FILL, body=body))
    write(t, "garbage-signatures", webhook_case(
        SIGN | FILL, headers=[("webhook-signature", "v1,AAAA v2,xyz v1, v1,!!!")], body=body))
    write(t, "get", webhook_case(SIGN | FILL | METHOD, body=body))
    write(t, "pseudo-method", webhook_case(
        SIGN | FILL | METHOD, headers=[(":method", "post")], body=body))
    write(t, "unknown-source", webhook_case(
        SIGN | FILL | PSEUDO_SOURCE, headers=[(":source", "erp/../shop")], body=body))
    write(t, "text-plain", webhook_case(
        SIGN | FILL, headers=[("content-type", "text/plain")], body=body))
    write(t, "webhook-id-with-space", webhook_case(
        SIGN | FILL, headers=[("webhook-id", "msg 1")], body=body))
    write(t, "webhook-id-too-long", webhook_case(
        SIGN | FILL, headers=[("webhook-id", "m" * 257)], body=body))
    write(t, "stale-timestamp", webhook_case(
        SIGN | FILL, headers=[("webhook-timestamp", str(NOW - 301))], body=body))
    write(t, "zero-padded-timestamp", webhook_case(
        SIGN | FILL, headers=[("webhook-timestamp", "00" + str(NOW))], body=body))
    write(t, "small-too-large", webhook_case(SIGN | FILL | SMALL, body=compact(
        {**CUSTOMER, "data": {**CUSTOMER["data"], "payment_terms": "x" * 900}})))
    write(t, "small-claim-check", webhook_case(SIGN | FILL | SMALL, body=compact(PLACED)))
    write(t, "claim-check-noncharacter", webhook_case(
        SIGN | FILL, body=ODD_BODIES["noncharacter"]))
    faults = {"claim-fails": CLAIM_FAILS, "in-flight": IN_FLIGHT,
              "complete-fails": COMPLETE_FAILS, "send-fails": SEND_FAILS,
              "send-and-release-fail": SEND_FAILS | RELEASE_FAILS}
    for name, fault in faults.items():
        write(t, f"fault-{name}", webhook_case(SIGN | FILL, fault, body=body))
    write(t, "fault-put-fails", webhook_case(SIGN | FILL | SMALL, PUT_FAILS, body=compact(PLACED)))
    write(t, "via-event", webhook_case(SIGN | FILL, VIA_EVENT, body=body))
    write(t, "via-event-base64", webhook_case(SIGN | FILL, VIA_EVENT | BASE64, body=body))
    for name, odd in ODD_BODIES.items():
        flags = SIGN | FILL | (SHOP if name == "wrong-source-type" else 0)
        write(t, f"body-{name}", webhook_case(flags, body=odd))


def contract_seeds():
    t = "contract_parse_event"
    for name, (source, event) in EVENTS.items():
        write(t, f"valid-{name}", bytes([source == "shop"]) + compact(event).encode())
        # Pretty-printed, from the other source (an unknown type there).
        write(t, f"other-source-{name}",
              bytes([source != "shop"]) + json.dumps(event, indent=1).encode())
    for name, odd in ODD_BODIES.items():
        write(t, f"odd-{name}", b"\x00" + odd.encode("utf-8", "surrogatepass"))
    for name, text in {
        "empty": "", "null": "null", "string": '"x"', "number": "1e400",
        "whitespace": " \t\r\n{}\n",
    }.items():
        write(t, f"tiny-{name}", b"\x00" + text.encode())

    t = "contract_values"
    values = {
        "plain": "12.50", "negative": "-0.0", "integer": "40", "exponent": "1.5e3",
        "exponent-upper": "-2E+3", "small-exponent": "1.25e-2", "max-scale": "1e-28",
        "beyond-scale": "1e-29", "max-digits": "79228162514264337593543950335",
        "overflow": "79228162514264337593543950336", "exponent-28": "7.9e28",
        "exponent-29": "1e29", "zero-exponent": "0e-99999", "zero-big-exponent": "0e99999",
        "long-fraction": "0.1234567890123456789012345678901234",
        "bad-dot": "1.", "bad-lead": ".5", "bad-comma": "1,5", "bad-plus": "+1",
        "bad-exponent": "1e", "nan": "NaN", "revision": "18446744073709551615",
        "revision-over": "18446744073709551616", "timestamp": "2026-11-26T10:00:00Z",
        "timestamp-offset": "2026-11-26T10:00:00.123456789+14:00",
        "timestamp-leap": "2016-12-31T23:59:60Z", "date": "2026-12-01",
        "date-last": "9999-12-31", "date-max": "+262142-12-31", "date-bad": "2026-02-30",
    }
    for name, text in values.items():
        write(t, name, text)


# ---------------------------------------------------------------- PIM files

CSV_FULL = (
    "sku,gtin,name.de-DE,name.en-GB,description.de-DE,brand,category,unit,weight_kg,"
    "images,status,attr.color,attr.material\n"
    "A-1,4008190143640,Bohrer 8 mm,Drill 8 mm,HSS-Bohrer,Bosch,Werkzeug > Bohrer,C62,0.25,"
    "http://x/1.jpg|http://x/2.jpg,active,rot,HSS\n"
    "B-2,,Säge,,,,,KGM,1.5,,inactive,,\n"
)


def csv_seeds():
    t = "pim_csv"
    write(t, "full", CSV_FULL)
    write(t, "semicolon-bom-crlf",
          "\ufeffsku;name.de-DE;attr.color;images\r\n"
          "A-1;\"Bohrer; 8 mm\";rot;http://x/1.jpg|http://x/2.jpg\r\n"
          "\"B-2\";\"Sägeblatt \"\"Pro\"\"\r\nzweite Zeile\";;\r\n")
    write(t, "tab-windows-1252", b"sku\tname.de\nA-1\tGr\xf6\xdfe 10\n")
    write(t, "quoted-newlines-blank-lines", "sku,name.de\r\nA,\"x\r\ny\"\r\n\r\nB,z\r\nC,w\n")
    write(t, "unclosed-quote", "sku,name.de\nA,\"unclosed\nx,y\nz,w\n")
    write(t, "too-many-fields", "sku,name.de\nA,x,extra\nB,y\n")
    write(t, "blank-rows", "sku;name.de;brand\nA;x;y\n;;\n;;\n  ; ;\n")
    write(t, "no-sku-column", "name.de\nx\n")
    write(t, "utf16-bom", b"\xff\xfes\x00k\x00u\x00\n\x00")
    write(t, "empty", "")
    write(t, "header-only", "sku,name.de")
    write(t, "repeated-columns",
          "name.de;sku;name.DE;attr. color;attr.color;name.x1;sku;status;unit;unit;"
          "weight_kg;images;images;description.en_gb;gtin;category\n"
          "a;S-1;b;c;d;;S-2;active;C62;KGM;0,50;i|j; |k;e;96385074;a > b >> c\n")
    write(t, "odd-values",
          "sku,gtin,unit,weight_kg,status,name.de\n"
          " B-2 ,400819014364,stk,-1,Inaktiv,x\n"
          "\u00a0D-4\u00a0,12345678901234567890, c62,1e3,INACTIVE,\u202ey\n"
          "E\u00e9,4008190143641,05,007.10,active,\"\"\n"
          "SKU-9,,C62,0.000,,x\nSKU-9,,C62,0.000,,y\n")
    write(t, "long-field", "sku,name.de\nA," + "x" * 3000 + "\n")
    write(t, "gzip", gz(CSV_FULL))
    write(t, "gzip-two-members", gz(CSV_FULL) + gz("C-3,,Dritte,,,,,,,,,,\n"))
    write(t, "gzip-truncated", gz(CSV_FULL)[:-12])
    write(t, "gzip-bomb", gz("sku,name.de\n" + "A," + "x" * 2_000_000 + "\n"))


NDJSON_LINES = [
    {"sku": "A-1", "gtin": "4008190143640", "name": {"de": "Bohrer", "en": "Drill"},
     "description": {"de": "HSS"}, "brand": "Bosch", "category": ["Werkzeug", "Bohrer"],
     "unit": "C62", "weight_kg": 0.25, "images": ["http://x/1.jpg"], "status": "active",
     "attributes": {"color": "red", "sizes": [8, 10], "cordless": True}},
    {"sku": "B-2", "name": {"de": "Säge"}, "category": "Werkzeug > Säge",
     "images": "http://x/2.jpg|http://x/3.jpg", "weight_kg": "1.5", "status": "inactive"},
]


def ndjson_seeds():
    t = "pim_ndjson"
    lines = "\n".join(compact(line) for line in NDJSON_LINES) + "\n"
    write(t, "valid", lines)
    write(t, "bom-crlf-blank-lines", "\ufeff" + lines.replace("\n", "\r\n\r\n"))
    write(t, "broken-lines", '{"sku":"A"}\n{broken\n[1]\n"text"\n{"sku":"B"}')
    write(t, "deep-nesting", '{"sku":"A","attributes":' + '{"a":' * 300 + "1" + "}" * 301 + "\n")
    write(t, "deep-arrays", '{"sku":"A","images":' + "[" * 300 + "]" * 300 + "}\n")
    write(t, "huge-numbers", '{"sku":"A","weight_kg":1e999999999,"gtin":' + "9" * 500 + "}\n")
    write(t, "odd-types", '{"sku":12,"name":"x","description":[1],"attributes":[1],'
          '"images":{"a":1},"category":null,"status":false}\n')
    write(t, "escapes", '{"sku":"A\\u0000","name":{"de":"\\ud83d\\ude00\\u2028"}}\n'
          '{"sku":"\\ud800"}\n')
    write(t, "gzip", gz(lines))
    write(t, "gzip-truncated", gz(lines)[:-20])
    write(t, "gzip-bomb-one-line", gz('{"sku":"A","name":{"de":"' + "x" * 2_000_000 + '"}}'))
    write(t, "gzip-bomb-blank", gz("\n" * 2_000_000))


BMECAT_2005 = """<?xml version="1.0" encoding="UTF-8"?>
<BMECAT version="2005" xmlns="http://www.bmecat.org/bmecat/2005">
  <HEADER><CATALOG><LANGUAGE>deu</LANGUAGE><LANGUAGE>eng</LANGUAGE></CATALOG></HEADER>
  <T_NEW_CATALOG>
    <PRODUCT>
      <SUPPLIER_PID>1010000000</SUPPLIER_PID>
      <PRODUCT_DETAILS>
        <DESCRIPTION_SHORT lang="deu">Reihenklemme</DESCRIPTION_SHORT>
        <DESCRIPTION_SHORT lang="eng">Terminal</DESCRIPTION_SHORT>
        <DESCRIPTION_LONG lang="deu">2.5 mm&amp;sup2;, gr&#252;n <![CDATA[<b>&amp;</b>]]></DESCRIPTION_LONG>
        <EAN>4008190143640</EAN>
        <MANUFACTURER_NAME>Weidmueller</MANUFACTURER_NAME>
      </PRODUCT_DETAILS>
      <PRODUCT_FEATURES>
        <REFERENCE_FEATURE_SYSTEM_NAME>ECLASS-9.0</REFERENCE_FEATURE_SYSTEM_NAME>
        <REFERENCE_FEATURE_GROUP_ID>27141141</REFERENCE_FEATURE_GROUP_ID>
        <FEATURE><FNAME>Voltage</FNAME><FVALUE>110</FVALUE><FVALUE lang="eng">220</FVALUE><FUNIT>VLT</FUNIT></FEATURE>
        <FEATURE><FT_ID>EF000001</FT_ID><FVALUE_DETAILS>blau</FVALUE_DETAILS></FEATURE>
      </PRODUCT_FEATURES>
      <PRODUCT_ORDER_DETAILS><ORDER_UNIT>C62</ORDER_UNIT></PRODUCT_ORDER_DETAILS>
      <MIME_INFO><MIME><MIME_TYPE>image/jpeg</MIME_TYPE><MIME_SOURCE>a.jpg</MIME_SOURCE></MIME>
        <MIME><MIME_TYPE>url</MIME_TYPE><MIME_SOURCE>http://x</MIME_SOURCE></MIME></MIME_INFO>
    </PRODUCT>
    <PRODUCT mode="delete"><SUPPLIER_PID>OLD-1</SUPPLIER_PID></PRODUCT>
  </T_NEW_CATALOG>
</BMECAT>
"""

BMECAT_12 = """<?xml version="1.0" encoding="ISO-8859-1"?>
<bme:BMECAT version="1.2" xmlns:bme="http://www.bmecat.org/XMLSchema/1.2/bmecat_new_catalog">
<bme:HEADER><bme:CATALOG><bme:LANGUAGE>ger</bme:LANGUAGE></bme:CATALOG></bme:HEADER>
<bme:T_UPDATE_PRODUCTS prev_version="1">
<bme:ARTICLE mode="update"><bme:SUPPLIER_AID>X-1</bme:SUPPLIER_AID>
<bme:ARTICLE_DETAILS><bme:DESCRIPTION_SHORT>Gr\xf6\xdfe 10</bme:DESCRIPTION_SHORT>
<bme:INTERNATIONAL_PID type="gtin">96385074</bme:INTERNATIONAL_PID></bme:ARTICLE_DETAILS>
<bme:ARTICLE_FEATURES><bme:FEATURE><bme:FNAME>Farbe</bme:FNAME><bme:FVALUE>rot</bme:FVALUE></bme:FEATURE></bme:ARTICLE_FEATURES>
<bme:ARTICLE_ORDER_DETAILS><bme:ORDER_UNIT>PCE</bme:ORDER_UNIT></bme:ARTICLE_ORDER_DETAILS>
</bme:ARTICLE><bme:ARTICLE mode="delete"><bme:SUPPLIER_AID>X-2</bme:SUPPLIER_AID></bme:ARTICLE>
</bme:T_UPDATE_PRODUCTS></bme:BMECAT>
"""


def product(body):
    return ("<BMECAT><HEADER><CATALOG><LANGUAGE>eng</LANGUAGE></CATALOG></HEADER><T_NEW_CATALOG>"
            "<PRODUCT><SUPPLIER_PID>P-1</SUPPLIER_PID>%s</PRODUCT></T_NEW_CATALOG></BMECAT>" % body)


def bmecat_seeds():
    t = "pim_bmecat"
    write(t, "bmecat-2005", BMECAT_2005)
    write(t, "bmecat-1.2-latin1", BMECAT_12.encode("latin-1"))
    write(t, "empty-elements", product("<PRODUCT_DETAILS><DESCRIPTION_SHORT/><EAN/></PRODUCT_DETAILS>"
                                       "<MIME_INFO><MIME/></MIME_INFO><FEATURE/>"))
    write(t, "billion-laughs", """<?xml version="1.0"?>
<!DOCTYPE BMECAT [
 <!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
]>
""" + product("<PRODUCT_DETAILS><DESCRIPTION_SHORT>&d;&d;&d;</DESCRIPTION_SHORT></PRODUCT_DETAILS>"))
    write(t, "external-entity", """<?xml version="1.0"?>
<!DOCTYPE BMECAT SYSTEM "bmecat_2005.dtd" [<!ENTITY x SYSTEM "file:///etc/passwd">]>
""" + product("<PRODUCT_DETAILS><DESCRIPTION_SHORT>&x;</DESCRIPTION_SHORT></PRODUCT_DETAILS>"))
    write(t, "deep-nesting", product("<X>" * 70 + "</X>" * 70))
    write(t, "double-escaped", product(
        "<PRODUCT_DETAILS><DESCRIPTION_LONG>&amp;lt;b&amp;gt; &amp;amp; &amp;sup2; &amp;unknown; "
        "&amp;#x1F600; &#0; &#xD800; &</DESCRIPTION_LONG></PRODUCT_DETAILS>"))
    write(t, "price-update", "<BMECAT><T_UPDATE_PRICES></T_UPDATE_PRICES></BMECAT>")
    write(t, "no-transaction", "<BMECAT><HEADER/></BMECAT>")
    write(t, "truncated", BMECAT_2005[: len(BMECAT_2005) // 2])
    write(t, "mismatched-tags", product("<PRODUCT_DETAILS></EAN>"))
    write(t, "nested-products", product("<PRODUCT><SUPPLIER_PID>INNER</SUPPLIER_PID></PRODUCT>"))
    write(t, "utf16-declared", '<?xml version="1.0" encoding="UTF-16"?>' + product(""))
    write(t, "utf16-bom", ("\ufeff" + product("")).encode("utf-16-le"))
    write(t, "comments-pi-cdata", product(
        "<!-- c --><?pi x?><PRODUCT_DETAILS><DESCRIPTION_SHORT><![CDATA[a]]><![CDATA[]]>]]&gt;"
        "</DESCRIPTION_SHORT></PRODUCT_DETAILS>"))
    write(t, "gzip", gz(BMECAT_2005))
    write(t, "gzip-truncated", gz(BMECAT_2005)[:-30])
    write(t, "gzip-bomb-text", gz(product("<PRODUCT_DETAILS><DESCRIPTION_LONG>" + "x" * 2_000_000
                                          + "</DESCRIPTION_LONG></PRODUCT_DETAILS>")))
    write(t, "gzip-bomb-cdata", gz(product("<PRODUCT_DETAILS><DESCRIPTION_LONG>"
                                           + "<![CDATA[<<<<<<<<]]>" * 200_000
                                           + "</DESCRIPTION_LONG></PRODUCT_DETAILS>")))
    write(t, "gzip-bomb-attribute", gz('<BMECAT lang="' + "&amp;" * 400_000
                                       + '"><T_NEW_CATALOG/></BMECAT>'))


# ---------------------------------------------------------------- openTRANS documents

def dispatch(items, header_extra=""):
    return ('<?xml version="1.0" encoding="ISO-8859-1"?>\n'
            '<DISPATCHNOTIFICATION version="2.1" xmlns="http://www.opentrans.org/XMLSchema/2.1" '
            'xmlns:bmecat="http://www.bmecat.org/bmecat/2005"><DISPATCHNOTIFICATION_HEADER>'
            '<CONTROL_INFO><GENERATION_DATE>2026-12-07T08:00:00+01:00</GENERATION_DATE></CONTROL_INFO>'
            '<DISPATCHNOTIFICATION_INFO><DISPATCHNOTIFICATION_ID>DN-1</DISPATCHNOTIFICATION_ID>'
            '<DISPATCHNOTIFICATION_DATE>2026-12-07T09:00:00+01:00</DISPATCHNOTIFICATION_DATE>'
            '<DELIVERY_DATE><DELIVERY_START_DATE>2026-12-08</DELIVERY_START_DATE>'
            '<DELIVERY_END_DATE>2026-12-09</DELIVERY_END_DATE></DELIVERY_DATE>'
            '<PARTIES><PARTY><bmecat:PARTY_ID type="supplier_specific">D1</bmecat:PARTY_ID>'
            '<PARTY_ROLE>deliverer</PARTY_ROLE><ADDRESS><CONTACT_DETAILS>'
            '<bmecat:CONTACT_NAME>Spedition M\u00fcller</bmecat:CONTACT_NAME></CONTACT_DETAILS>'
            '</ADDRESS></PARTY></PARTIES><SHIPMENT_PARTIES_REFERENCE><DELIVERER_IDREF>D1'
            '</DELIVERER_IDREF></SHIPMENT_PARTIES_REFERENCE><SHIPMENT_ID>JJD1</SHIPMENT_ID>'
            '<TRACKING_TRACING_URL>https://t.example/JJD1</TRACKING_TRACING_URL>' + header_extra +
            '</DISPATCHNOTIFICATION_INFO></DISPATCHNOTIFICATION_HEADER>'
            '<DISPATCHNOTIFICATION_ITEM_LIST>' + items + '</DISPATCHNOTIFICATION_ITEM_LIST>'
            '</DISPATCHNOTIFICATION>').encode("latin-1")


def dispatch_item(line, pid, quantity, order):
    return ('<DISPATCHNOTIFICATION_ITEM><LINE_ITEM_ID>' + line + '</LINE_ITEM_ID><PRODUCT_ID>'
            '<bmecat:SUPPLIER_PID>' + pid + '</bmecat:SUPPLIER_PID></PRODUCT_ID><QUANTITY>'
            + quantity + '</QUANTITY><bmecat:ORDER_UNIT>C62</bmecat:ORDER_UNIT>'
            '<PARTIAL_DELIVERY_LIST><PARTIAL_DELIVERY><QUANTITY>1</QUANTITY></PARTIAL_DELIVERY>'
            '</PARTIAL_DELIVERY_LIST><ORDER_REFERENCE><ORDER_ID>' + order + '</ORDER_ID>'
            '<LINE_ITEM_ID>' + line + '</LINE_ITEM_ID></ORDER_REFERENCE></DISPATCHNOTIFICATION_ITEM>')


def opentrans_seeds():
    t = "opentrans_documents"
    one = dispatch_item("1", "A-1", "2", "SO-1")
    write(t, "one-item", dispatch(one))
    write(t, "two-orders", dispatch(one + dispatch_item("2", "B&amp;2", "0.5", "SO-2")
                                    + dispatch_item("P7", "C-3", "4000", "SO-1")))
    write(t, "no-order-reference", dispatch(one.replace("<ORDER_ID>SO-1</ORDER_ID>", "")))
    write(t, "bad-quantity", dispatch(dispatch_item("1", "A-1", "-3", "SO-1")))
    write(t, "external-entity", b'<!DOCTYPE DISPATCHNOTIFICATION [<!ENTITY x SYSTEM '
          b'"file:///etc/passwd">]><DISPATCHNOTIFICATION>&x;</DISPATCHNOTIFICATION>')
    write(t, "other-document", b'<ORDER version="2.1"><ORDER_HEADER/></ORDER>')
    write(t, "cdata-and-comments", dispatch(one.replace("<QUANTITY>2</QUANTITY>",
                                                        "<QUANTITY><![CDATA[2]]><!-- x --></QUANTITY>")))
    write(t, "order-response", (
        '<ORDERRESPONSE xmlns="http://www.opentrans.org/XMLSchema/2.1" '
        'xmlns:bmecat="http://www.bmecat.org/bmecat/2005" version="2.1"><ORDERRESPONSE_HEADER>'
        '<ORDERRESPONSE_INFO><ORDER_ID>SO-1</ORDER_ID><ORDERRESPONSE_DATE>2026-12-07T11:00:00Z'
        '</ORDERRESPONSE_DATE><SUPPLIER_ORDER_ID>AB-1</SUPPLIER_ORDER_ID></ORDERRESPONSE_INFO>'
        '</ORDERRESPONSE_HEADER><ORDERRESPONSE_ITEM_LIST><ORDERRESPONSE_ITEM><LINE_ITEM_ID>1'
        '</LINE_ITEM_ID><QUANTITY>0</QUANTITY></ORDERRESPONSE_ITEM></ORDERRESPONSE_ITEM_LIST>'
        '</ORDERRESPONSE>'))
    write(t, "invoice", (
        '<INVOICE xmlns="http://www.opentrans.org/XMLSchema/2.1" '
        'xmlns:bmecat="http://www.bmecat.org/bmecat/2005" version="2.1"><INVOICE_HEADER>'
        '<INVOICE_INFO><INVOICE_ID>R-1</INVOICE_ID><INVOICE_DATE>2026-12-07</INVOICE_DATE>'
        '<INVOICE_TYPE>credit_memo</INVOICE_TYPE><PARTIES><PARTY><bmecat:PARTY_ID>C-1'
        '</bmecat:PARTY_ID><ADDRESS><bmecat:NAME>K</bmecat:NAME></ADDRESS></PARTY></PARTIES>'
        '<INVOICE_RECIPIENT_IDREF>C-1</INVOICE_RECIPIENT_IDREF><bmecat:CURRENCY>EUR'
        '</bmecat:CURRENCY></INVOICE_INFO><ORDER_HISTORY><ORDER_ID>SO-1</ORDER_ID></ORDER_HISTORY>'
        '</INVOICE_HEADER><INVOICE_SUMMARY><NET_VALUE_GOODS>100</NET_VALUE_GOODS><TOTAL_AMOUNT>'
        '119.00</TOTAL_AMOUNT><TOTAL_TAX><TAX_DETAILS_FIX><TAX_AMOUNT>19</TAX_AMOUNT>'
        '</TAX_DETAILS_FIX></TOTAL_TAX></INVOICE_SUMMARY></INVOICE>'))


if __name__ == "__main__":
    webhook_seeds()
    contract_seeds()
    csv_seeds()
    ndjson_seeds()
    bmecat_seeds()
    opentrans_seeds()
    total = sum(len(files) for _, _, files in os.walk(ROOT))
    print(f"wrote the seeds under {ROOT}: {total} files")
