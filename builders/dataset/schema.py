"""The row schema of every config: the one place for columns, types and units.

A row is one clip. ``imu`` is (N, 6) float32: ax ay az specific force in m/s^2, then gx gy gz angular
rate in rad/s, all in the sensor frame (Android device axes). The split is not a column: each split
is its own set of files.
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterable, Mapping

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..instructions.facts import FACT_FIELDS, compute_facts
from ..labels import HAZARD_NAMES

IMU_CHANNELS: tuple[str, ...] = ("ax", "ay", "az", "gx", "gy", "gz")
#: Unit of each IMU channel.
IMU_UNITS: dict[str, str] = {"ax": "m/s^2", "ay": "m/s^2", "az": "m/s^2",
                             "gx": "rad/s", "gy": "rad/s", "gz": "rad/s"}

FEATURES = datasets.Features({
    "id": datasets.Value("string"),
    "source": datasets.Value("string"),
    "subject": datasets.Value("string"),
    "source_label": datasets.Value("string"),
    "activity": datasets.Value("string"),
    "hazard": datasets.ClassLabel(names=list(HAZARD_NAMES)),
    "safe": datasets.Value("bool"),
    "synthetic": datasets.Value("bool"),
    "placement": datasets.Value("string"),
    "device": datasets.Value("string"),
    "sample_rate_hz": datasets.Value("float32"),
    "imu": datasets.Array2D(shape=(None, 6), dtype="float32"),
    "simulator_version": datasets.Value("string"),
    "options": datasets.Value("string"),
    "seed": datasets.Value("int64"),
    "extra": datasets.Value("string"),
    "instructions": datasets.List({
        "kind": datasets.Value("string"),
        "instruction": datasets.Value("string"),
        "response": datasets.Value("string"),
    }),
    "facts": {name: datasets.Value(dtype) for name, (dtype, _, _) in FACT_FIELDS.items()},
})
#: Kinds of instruction-response pairs (``instructions[].kind``).
PAIR_KINDS: tuple[str, ...] = ("description", "causal", "comparative", "classification")
#: Arrow schema of the shards; its ``huggingface`` metadata lets ``load_dataset`` restore the
#: ClassLabel and Array2D features.
ARROW_SCHEMA: pa.Schema = FEATURES.arrow_schema

#: Column -> (type, unit or frame, meaning): the schema table of the dataset card.
COLUMN_DOCS: dict[str, tuple[str, str, str]] = {
    "id": ("string", "", "clip id, unique within the source"),
    "source": ("string", "", "source dataset (label table key)"),
    "subject": ("string", "", "subject id in the source"),
    "source_label": ("string", "", "label in the source's own vocabulary"),
    "activity": ("string", "", "activity name from the reviewed label table"),
    "hazard": ("ClassLabel", "", "'none' (safe) or the unsafe hazard: " + ", ".join(HAZARD_NAMES[1:])),
    "safe": ("bool", "", "hazard == 'none'"),
    "synthetic": ("bool", "", "simulated from motion (true) or recorded by a real IMU (false)"),
    "placement": ("string", "", "sensor placement, e.g. left_wrist"),
    "device": ("string", "", "device model (noise, range, ADC) or the real recording device"),
    "sample_rate_hz": ("float32", "Hz", "IMU sample rate"),
    "imu": ("Array2D (N, 6) float32", "m/s^2, rad/s; sensor frame",
            "ax ay az specific force R_ws^T(p'' - g), gx gy gz body angular rate"),
    "simulator_version": ("string", "", "simulator version ('' for real IMU)"),
    "options": ("string (JSON)", "", "simulation options"),
    "seed": ("int64", "", "seed of the clip's random stream"),
    "extra": ("string (JSON)", "", "source-specific provenance"),
    "instructions": ("list of {kind, instruction, response}", "",
                     "instruction-response pairs, kind one of " + ", ".join(PAIR_KINDS)
                     + "; every number and event re-derivable from `facts` (empty when built "
                     "with --no-instructions)"),
    "facts": ("struct", "SI (field suffix: _s, _ms2, _ms3, _rads, _hz, _deg)",
              "signal facts from `imu` at its own rate (`builders/instructions/facts.py`); null "
              "where a fact does not apply"),
}
#: Fields of the ``facts`` struct: name -> (type, unit, meaning).
FACT_DOCS = FACT_FIELDS

_STRING_COLUMNS = ("id", "source", "subject", "source_label", "activity", "placement", "device",
                   "simulator_version")
_JSON_COLUMNS = ("options", "extra")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class RowError(ValueError):
    """A row that does not fit the schema (the message names the clip and the value)."""


def _json_string(value: Any, what: str) -> str:
    if isinstance(value, Mapping):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if not isinstance(value, str):
        raise RowError(f"{what} must be a JSON string or a dict, got {type(value).__name__}")
    try:
        json.loads(value)
    except json.JSONDecodeError as e:
        raise RowError(f"{what} is not valid JSON ({e}): {value[:80]!r}") from None
    return value


def validate_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """Check one row against the schema and return it normalised.

    Normalised: ``imu`` as a C-contiguous (N, 6) float32 array, ``options``/``extra`` as JSON
    strings (dicts are dumped with sorted keys), numpy scalars as Python values. A missing or None
    ``facts`` is computed from the (float32) ``imu`` with the default ``FactOptions``.
    Raises RowError naming the clip and the bad value (missing/unknown column, NaN/Inf or wrong
    shape in ``imu``, unknown hazard, ``safe`` not matching ``hazard``, ...).
    """
    rid = row.get("id", "?")
    where = f"row {rid!r}"
    missing = [k for k in FEATURES if k not in row and k != "facts"]
    if missing:
        raise RowError(f"{where} lacks columns {missing}")
    unknown = sorted(set(row) - set(FEATURES))
    if unknown:
        raise RowError(f"{where} has unknown columns {unknown}; the schema has {list(FEATURES)}")
    out: dict[str, Any] = {}
    for k in _STRING_COLUMNS:
        if not isinstance(row[k], str):
            raise RowError(f"{where}: {k} must be a string, got {row[k]!r}")
        out[k] = row[k]
    for k in ("id", "source"):
        if not out[k]:
            raise RowError(f"{where}: {k} must not be empty")
    hazard = row["hazard"]
    if hazard not in HAZARD_NAMES:
        raise RowError(f"{where}: unknown hazard {hazard!r}; known: {HAZARD_NAMES}")
    out["hazard"] = str(hazard)
    for k in ("safe", "synthetic"):
        if not isinstance(row[k], (bool, np.bool_)):
            raise RowError(f"{where}: {k} must be a bool, got {row[k]!r}")
        out[k] = bool(row[k])
    if out["safe"] != (out["hazard"] == "none"):
        raise RowError(f"{where}: safe={out['safe']} contradicts hazard={out['hazard']!r}")
    rate = row["sample_rate_hz"]
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)) \
            or not math.isfinite(float(rate)) or float(rate) <= 0:
        raise RowError(f"{where}: sample_rate_hz must be a positive finite number, got {rate!r}")
    out["sample_rate_hz"] = float(rate)
    seed = row["seed"]
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) \
            or not _INT64_MIN <= int(seed) <= _INT64_MAX:
        raise RowError(f"{where}: seed must be an int64, got {seed!r}")
    out["seed"] = int(seed)
    imu = np.asarray(row["imu"])
    if imu.ndim != 2 or imu.shape[1] != 6 or imu.shape[0] < 1:
        raise RowError(f"{where}: imu must be (N>=1, 6), got shape {imu.shape}")
    if not (np.issubdtype(imu.dtype, np.floating) or np.issubdtype(imu.dtype, np.integer)):
        raise RowError(f"{where}: imu must be numeric, got dtype {imu.dtype}")
    imu = np.ascontiguousarray(imu, dtype=np.float32)
    if not np.isfinite(imu).all():
        bad = np.argwhere(~np.isfinite(imu))[0]
        raise RowError(f"{where}: imu has NaN/Inf (first at sample {bad[0]}, channel "
                       f"{IMU_CHANNELS[bad[1]]}); skip the clip instead of writing it")
    out["imu"] = imu
    for k in _JSON_COLUMNS:
        out[k] = _json_string(row[k], f"{where}: {k}")
    pairs = row["instructions"]
    if not isinstance(pairs, (list, tuple)):
        raise RowError(f"{where}: instructions must be a list, got {type(pairs).__name__}")
    out["instructions"] = []
    for i, pair in enumerate(pairs):
        if not isinstance(pair, Mapping) or set(pair) != {"kind", "instruction", "response"} \
                or not all(isinstance(v, str) for v in pair.values()) or pair["kind"] not in PAIR_KINDS:
            raise RowError(f"{where}: instructions[{i}] must be {{'kind': one of {PAIR_KINDS}, "
                           f"'instruction': str, 'response': str}}, got {pair!r}")
        out["instructions"].append({k: pair[k] for k in ("kind", "instruction", "response")})
    out["facts"] = _check_facts(row.get("facts"), imu, out["sample_rate_hz"], where)
    return out


def _check_facts(facts: Any, imu: np.ndarray, rate: float, where: str) -> dict[str, Any]:
    """``facts`` checked against ``FACT_FIELDS`` (computed from ``imu`` when None)."""
    if facts is None:
        return compute_facts(imu, rate)
    if not isinstance(facts, Mapping) or set(facts) != set(FACT_FIELDS):
        got = sorted(facts) if isinstance(facts, Mapping) else type(facts).__name__
        raise RowError(f"{where}: facts must be a dict with the fields {list(FACT_FIELDS)}, got {got}")
    out = {}
    for name, (dtype, _, _) in FACT_FIELDS.items():
        v = facts[name]
        if v is not None:
            if dtype == "string":
                ok = isinstance(v, str)
            elif dtype == "int64":
                ok = isinstance(v, (int, np.integer)) and not isinstance(v, bool)
            else:
                ok = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) \
                    and math.isfinite(float(v))
            if not ok:
                raise RowError(f"{where}: facts.{name} must be a finite {dtype} or None, got {v!r}")
            v = str(v) if dtype == "string" else int(v) if dtype == "int64" else float(v)
        out[name] = v
    return out


def imu_storage(imus: list[np.ndarray]) -> pa.Array:
    """(N_i, 6) float32 arrays -> Arrow ``list<list<float32>>`` (the Array2D storage)."""
    lengths = np.array([len(a) for a in imus], dtype=np.int64)
    values = np.concatenate(imus).reshape(-1) if imus else np.zeros(0, np.float32)
    outer = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    inner = (np.arange(int(lengths.sum()) + 1, dtype=np.int64) * 6).astype(np.int32)
    rows = pa.ListArray.from_arrays(pa.array(inner), pa.array(values, pa.float32()))
    return pa.ListArray.from_arrays(pa.array(outer), rows)


def imu_arrays(column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """An ``imu`` column -> (values (sum N, 6) float32, offsets (n + 1,) int64).

    Row i is ``values[offsets[i]:offsets[i + 1]]``. Accepts the Array2D extension type or its storage.
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if isinstance(column.type, pa.ExtensionType):
        column = column.storage
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False).astype(np.int64)
    values = column.flatten().flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return values.reshape(-1, 6), offsets


def to_arrow_table(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """Rows (dicts of the schema; validated here) -> a table with ``ARROW_SCHEMA`` (HF metadata included)."""
    rows = [validate_row(r) for r in rows]
    arrays = []
    for name in FEATURES:
        field = ARROW_SCHEMA.field(name)
        if name == "imu":
            arrays.append(pa.ExtensionArray.from_storage(field.type, imu_storage([r["imu"] for r in rows])))
        elif name == "hazard":
            arrays.append(pa.array([HAZARD_NAMES.index(r["hazard"]) for r in rows], field.type))
        else:
            arrays.append(pa.array([r[name] for r in rows], field.type))
    return pa.Table.from_arrays(arrays, schema=ARROW_SCHEMA)
