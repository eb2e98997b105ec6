"""Reading XLA's optimised HLO text: how many products and transcendental functions a compiled program runs.

``count_ops`` walks the module from its entry computation into fusions, calls and while-loop bodies,
multiplying by each loop's known trip count, so that a scan of T steps counts its body T times.
``floor_of`` turns the counts into a time floor given per-operation costs (tools/bench_floor.py times them).
"""

from __future__ import annotations

import re
from collections import Counter

TRANSCENDENTAL = ("exponential", "exponential-minus-one", "log", "log-plus-one", "logistic", "tanh", "power",
                  "sqrt", "rsqrt")
COUNTED = TRANSCENDENTAL + ("divide",)


def _computations(text: str) -> dict:
    """name → list of instruction lines, for every computation of the module (ENTRY under 'ENTRY')."""
    comps, name, lines = {}, None, []
    for line in text.split("\n"):
        head = re.match(r"(ENTRY )?(%[\w.\-]+) .*\{$", line)
        if head and not line.startswith(" "):
            name, lines = ("ENTRY" if head.group(1) else head.group(2)), []
        elif line.startswith("}") and name:
            comps[name], name = lines, None
        elif name:
            lines.append(line)
    return comps


def _dims(shape: str) -> tuple:
    m = re.match(r"\w+\[([\d,]*)\]", shape)
    return tuple(int(v) for v in m.group(1).split(",") if v) if m else ()


def _size(shape: str) -> int:
    n = 1
    for v in _dims(shape):
        n *= v
    return n


def count_ops(text: str):
    """(Counter (op, elements) → count, Counter dot signature → count) over the module, loops × trip count."""
    comps = _computations(text)
    ops, dots = Counter(), Counter()

    def walk(name: str, mult: int):
        shapes = {}
        for line in comps.get(name, []):
            m = re.match(r"\s*(?:ROOT )?(%[\w.\-]+) = (.*?) ([a-z][\w\-]*)\((.*)", line)
            if not m:
                continue
            inst, shape, op, rest = m.groups()
            shapes[inst] = shape
            if op in COUNTED:
                ops[(op, _size(shape))] += mult
            elif op == "dot":
                a, b = re.findall(r"(%[\w.\-]+)", rest.split(")")[0])[:2]
                attrs = tuple(re.findall(r"(lhs_contracting_dims|rhs_contracting_dims|lhs_batch_dims|rhs_batch_dims)"
                                         r"=\{([\d,]*)\}", rest))
                dots[(shapes[a], shapes[b], attrs)] += mult
            elif op == "while":
                trip = re.search(r'known_trip_count":\{"n":"(\d+)"', rest)
                if not trip:
                    raise SystemExit(f"a while loop without a known trip count: {inst}")
                walk(re.search(r"body=(%[\w.\-]+)", rest).group(1), mult * int(trip.group(1)))
            elif op in ("fusion", "call"):
                for sub in re.findall(r"(?:calls|to_apply)=(%[\w.\-]+)", rest):
                    walk(sub, mult)
    walk("ENTRY", 1)
    return ops, dots


def floor_of(text: str, op_cost, dot_cost) -> dict:
    """A program's floor (s per call), split into products, transcendental functions and divisions: every counted
    operation times its cost, ``op_cost(op, elements)`` and ``dot_cost(signature)`` in seconds."""
    ops, dots = count_ops(text)
    out = {"products": 0.0, "transcendental": 0.0, "divisions": 0.0}
    for (op, n), k in ops.items():
        out["divisions" if op == "divide" else "transcendental"] += k * n * op_cost(op, n)
    for sig, k in dots.items():
        out["products"] += k * dot_cost(sig)
    return out
