"""Coding corpora beyond one machine with PySpark.

`code_jsonl(spark, IN, OUT)` reads a JSONL file of notes (`{"id", "text"}` per line),
codes every line with `DataFrame.mapInPandas`, and writes one suggestion per input line
(contracts section 2), in input order:

- **Engine once per Python worker.** The function given to mapInPandas looks the engine
  up in a module-level cache (`_ENGINES`), so each Spark Python worker process builds
  the pipeline, tables and scorer once and keeps it across batches and tasks (Spark
  reuses Python workers by default, `spark.python.worker.reuse=true`). An executor
  with k task slots runs k such workers.
- **Batches through nlp.pipe.** Arrow batches of `batch_size` rows
  (`spark.sql.execution.arrow.maxRecordsPerBatch`) are coded together by the same
  `code_chunk` as `dermcoder batch`, so a Spark line is byte for byte the batch line.
- **Bad lines are kept.** Lines are numbered with `zipWithIndex` (blank lines counted,
  as in batch) and parsed by the same `parse_line` as the batch reader: a line that is
  not JSON, lacks a field or is too long becomes an error record (`id`, `line`,
  `error`) in its place. Blank lines are skipped, as in batch. One difference: Hadoop's
  line reader decodes UTF-8 itself and replaces undecodable bytes with U+FFFD, so a line
  holding U+FFFD is reported as "not UTF-8" (batch would name the byte, and would code a
  note that contains a genuine U+FFFD).
- **Output.** OUT is a directory of part files (`part-00000-*.txt`, ...), Spark's own
  layout, which scales to any size: reading the parts in name order gives the lines in
  input order (no shuffle happens between reading and writing, so partition k of the
  output is split k of the input). With `single_file=True` the parts are concatenated
  in that order into one JSONL file OUT instead.

Note text never reaches a log: rows are not logged by Spark, and an error record's
message names the line and the problem, never the text.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from dermcoder.errors import InputError

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import SparkSession

    from dermcoder.engine import Engine

OUTPUT_SCHEMA = "line long, suggestion string, is_error boolean"
REPLACEMENT = "\ufffd"  # what Hadoop's reader puts in place of bytes that are not UTF-8
DEFAULT_BATCH = 64

_ENGINES: dict[str | None, Engine] = {}  # one engine per model, per Python worker process


def worker_engine(model: str | None = None) -> Engine:
    """The engine of this process, built on first use (module-level cache)."""
    if model not in _ENGINES:
        from dermcoder.engine import Engine, get_engine

        _ENGINES[model] = Engine(model) if model is not None else get_engine()
    return _ENGINES[model]


def code_batches(batches: Iterator[pd.DataFrame], source: str, model: str | None, limit: int) -> Iterator[pd.DataFrame]:
    """The mapInPandas function: (line, value bytes) rows in, (line, suggestion JSON, is_error) rows out."""
    import pandas as pd

    from dermcoder.batch import _item, code_chunk
    from dermcoder.contracts import NoteIn
    from dermcoder.jsonl import parse_line

    engine = worker_engine(model)
    for frame in batches:
        items = []
        for line, value in zip(frame["line"].tolist(), frame["value"].tolist()):
            if REPLACEMENT in value:
                # Hadoop's line reader has already replaced undecodable bytes; the batch reader
                # would report the byte, Spark can only say the line was not UTF-8.
                items.append((int(line), None, None, f"{source}:{line}: not UTF-8 (undecodable bytes)", None))
                continue
            result = parse_line(value.encode("utf-8"), int(line), source, NoteIn, limit)
            if result is not None:
                items.append(_item(result))
        coded = code_chunk(engine, items, source) if items else []
        yield pd.DataFrame(
            {
                "line": pd.Series([item[0] for item in items], dtype="int64"),
                "suggestion": pd.Series([text.rstrip("\n") for text, _err in coded], dtype="object"),
                "is_error": pd.Series([err for _text, err in coded], dtype="bool"),
            }
        )


def local_session(master: str = "local[*]", app_name: str = "dermcoder") -> SparkSession:
    """A SparkSession whose Python workers run this interpreter (so they import this install)."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


@functools.lru_cache(maxsize=1)
def _max_chars() -> int:
    from dermcoder.settings import get_settings

    return get_settings().max_note_chars


def check_paths(in_path: str | Path, out_path: str | Path, force: bool = False) -> Path:
    """Refuse a missing input, or a non-empty output without `force`, before any JVM starts."""
    from dermcoder.jsonl import open_checked

    src = open_checked(in_path).resolve()
    out = Path(out_path)
    if out.exists() and (out.is_file() and out.stat().st_size > 0 or out.is_dir() and any(out.iterdir())):
        if not force:
            raise InputError(f"{out}: already exists and is not empty; pass --force to overwrite it")
    return src


def java_missing() -> str | None:
    """Why Spark cannot start here (no Java), or None."""
    java_home = os.environ.get("JAVA_HOME")
    if shutil.which("java") is None and not (java_home and (Path(java_home) / "bin" / "java").exists()):
        return "Spark needs Java 17 or newer: no `java` on PATH and JAVA_HOME is not set"
    return None


def code_jsonl(
    spark: SparkSession,
    in_path: str | Path,
    out_path: str | Path,
    *,
    model: str | None = None,
    batch_size: int = DEFAULT_BATCH,
    single_file: bool = False,
    force: bool = False,
) -> dict:
    """Code IN into OUT with Spark (see the module docstring for the layout). Returns counts."""
    from pyspark.sql import Observation
    from pyspark.sql import functions as F
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    src = check_paths(in_path, out_path, force=force)
    out = Path(out_path)
    if batch_size < 1:
        raise InputError(f"--batch-size must be 1 or more, not {batch_size}")
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(batch_size))
    lines = spark.sparkContext.textFile(src.as_uri())  # one element per line, blank lines included
    numbered = lines.zipWithIndex().map(lambda pair: (pair[1] + 1, pair[0]))  # 1-based line numbers, as in batch
    schema = StructType([StructField("line", LongType(), False), StructField("value", StringType(), False)])
    frame = spark.createDataFrame(numbered, schema)
    coder = functools.partial(code_batches, source=str(in_path), model=model, limit=_max_chars())
    coded = frame.mapInPandas(coder, OUTPUT_SCHEMA)
    target = out.with_name(out.name + ".parts") if single_file else out
    for stale in (out, target):
        if stale.is_dir():
            shutil.rmtree(stale)
        elif stale.exists():
            stale.unlink()
    # Counted on the way out (df.observe): one pass, nothing cached.
    observation = Observation("dermcoder")
    observed = coded.observe(observation, F.count(F.lit(1)).alias("lines"),
                             F.sum(F.col("is_error").cast("long")).alias("errors"))  # fmt: skip
    observed.select("suggestion").write.text(str(target))
    if single_file:
        parts = sorted(target.glob("part-*"))
        with out.open("wb") as fh:
            for part in parts:
                with part.open("rb") as piece:
                    shutil.copyfileobj(piece, fh)
        shutil.rmtree(target)
    counts = observation.get
    lines_out = int(counts.get("lines") or 0)
    errors = int(counts.get("errors") or 0)
    return {"lines": lines_out, "errors": errors, "coded": lines_out - errors, "output": str(out)}
