#!/usr/bin/env python3
"""Parses a Prometheus text exposition (format 0.0.4) read from standard
input with the Prometheus project's own Python parser
(prometheus_client.parser.text_string_to_metric_families), for the
end-to-end test tests/observability.rs.

Prints one line per sample, `NAME{label="value",...} VALUE` with the labels
sorted by name, then `TYPE family kind` for each family; exits 1 with the
parser's error when the text does not parse.

Usage: parse_metrics.py < metrics.txt
"""

import sys

from prometheus_client.parser import text_string_to_metric_families


def main():
    text = sys.stdin.read()
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser raises ValueError and others
        print(f"parse error: {e!r}")
        return 1
    for family in families:
        print(f"TYPE {family.name} {family.type}")
        for sample in family.samples:
            labels = ",".join(
                f'{k}="{v}"' for k, v in sorted(sample.labels.items())
            )
            print(f"{sample.name}{{{labels}}} {sample.value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
