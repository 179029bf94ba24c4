#!/usr/bin/env python3
"""Validates cutover reports (JSON files, or the Markdown of `syncctl cutover --report`) against
config/cutover-report.schema.json. Exit 0 when every file is valid, 1 naming each violation."""
import json
import os
import re
import sys

import jsonschema

schema_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "config", "cutover-report.schema.json")
with open(schema_path) as f:
    schema = json.load(f)
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())

failed = False
for path in sys.argv[1:]:
    text = open(path).read()
    block = re.search(r"```json\n(.*?)\n```", text, re.S)
    report = json.loads(block.group(1) if block and not text.lstrip().startswith("{") else text)
    errors = sorted(validator.iter_errors(report), key=lambda e: e.json_path)
    for error in errors:
        print(f"{path}: {error.json_path}: {error.message}")
    failed = failed or bool(errors)
    if not errors:
        print(f"{path}: valid")
sys.exit(1 if failed else 0)
