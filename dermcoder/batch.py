"""Batch coding of a JSONL file: one output line per input line, same id, same order.

Built for files far larger than memory and runs that get killed:

- **Streaming.** The input is read line by line and coded in chunks of `chunk_size`
  notes (each chunk goes through `nlp.pipe`); at most a few chunks are in flight, so
  memory stays flat however long the file is.
- **Workers.** `workers=N > 1` codes chunks in N spawned processes, each building the
  engine once; results are written in input order.
- **Resumable.** Beside `OUT` a small record `OUT.batch.json` names the input (path,
  size, SHA-256, line count) and the model. Output is appended and flushed chunk by
  chunk; a run killed at any moment (even SIGKILL) leaves a prefix of the full output,
  possibly ending in half a line. `resume=True` checks the record against the input and
  model, drops a half-written last line, checks that the last kept line is the input's
  line at that position, and continues after it: every input line ends up in the output
  exactly once, in order.
- **Never loses a line.** An unreadable input line, or a note that fails to code, becomes
  an error record (`id`, `line`, `error`) in its place. Messages never carry note text.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from dermcoder.contracts import NoteIn, Suggestion
from dermcoder.errors import DermCoderError, InputError
from dermcoder.jsonl import LineResult, iter_jsonl, open_checked

if TYPE_CHECKING:  # the engine (spaCy, scikit-learn) is imported only once there is work to do
    from dermcoder.engine import Engine

RECORD_SUFFIX = ".batch.json"
RECORD_FORMAT = 1
DEFAULT_CHUNK = 32


@dataclass
class BatchStats:
    """What a batch run did. `resumed` lines were already in the output from an earlier run."""

    lines: int = 0
    coded: int = 0
    errors: int = 0
    resumed: int = 0
    total: int = 0  # non-blank input lines
    seconds: float = 0.0

    @property
    def notes_per_second(self) -> float:
        new = self.lines - self.resumed
        return new / self.seconds if self.seconds > 0 else 0.0


@dataclass
class InputIdentity:
    """What identifies an input file for --resume: same bytes, same lines."""

    path: str
    size: int
    sha256: str
    lines: int  # non-blank lines = output lines


@dataclass
class RunRecord:
    """The sidecar `OUT.batch.json`: which input and model the output belongs to."""

    input: InputIdentity
    model: dict
    format: int = RECORD_FORMAT
    complete: bool = False
    extra: dict = field(default_factory=dict)


def error_record(engine_or_info, line: int, message: str, raw_id: str | None) -> Suggestion:
    """The line kept in the output for an input line that could not be coded."""
    info = getattr(engine_or_info, "model_info", engine_or_info)
    return Suggestion(id=raw_id or f"line-{line}", model=info, error=message, line=line)


def record_path(out_path: str | Path) -> Path:
    """Where the resume record of `out_path` lives."""
    out = Path(out_path)
    return out.with_name(out.name + RECORD_SUFFIX)


def identify_input(path: str | Path) -> InputIdentity:
    """Hash the input and count its non-blank lines (one streaming pass)."""
    p = open_checked(path)
    digest = hashlib.sha256()
    size = lines = 0
    with p.open("rb") as fh:
        for raw in fh:
            digest.update(raw)
            size += len(raw)
            if raw.strip():
                lines += 1
    return InputIdentity(path=str(p.resolve()), size=size, sha256=digest.hexdigest(), lines=lines)


def _write_record(path: Path, record: RunRecord) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(asdict(record), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)  # atomic: a kill never leaves half a record


def _read_record(path: Path) -> RunRecord | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return RunRecord(input=InputIdentity(**data["input"]), model=data["model"], format=data.get("format", 0),
                         complete=bool(data.get("complete")), extra=data.get("extra") or {})  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _complete_lines(out: Path) -> tuple[int, int, bytes | None]:
    """(complete lines, byte length of those lines, last complete line) of an output file.

    A line is complete when it ends with a newline: suggestions are single-line JSON
    (json.dumps escapes newlines), written in order, so only the last line can be cut.
    """
    count = end = 0
    last = None
    with out.open("rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                break
            count += 1
            end += len(raw)
            last = raw
    return count, end, last


def _expected_id(result: LineResult) -> str:
    if result.record is not None:
        return result.record.id
    return result.raw_id or f"line-{result.line}"


def prepare_output(
    in_path: str | Path, out_path: str | Path, model: Callable[[], dict], *, resume: bool = False, force: bool = False
) -> tuple[int, InputIdentity]:
    """Check the output against the flags and the resume record; return (lines already done, input identity).

    Refuses (InputError) to overwrite a non-empty output without `resume` or `force`, and
    to resume an output written from another input or by another model. On resume a
    half-written last line is cut off here. `model()` gives the run's ModelInfo as a dict
    (called only when it is needed, so a refusal does not wait for heavy imports).
    """
    identity = identify_input(in_path)
    out, rec_path = Path(out_path), record_path(out_path)
    if out.is_dir():
        raise InputError(f"{out}: is a directory, expected a file to write")
    has_output = out.exists() and out.stat().st_size > 0
    if has_output and not (resume or force):
        raise InputError(f"{out}: already exists and is not empty; pass --resume to continue it or --force to overwrite it")
    if resume and has_output and not force:
        record = _read_record(rec_path)
        if record is None:
            raise InputError(f"{out}: cannot resume: its record {rec_path.name} is missing or unreadable, so which input "
                             "it came from is unknown; pass --force to start over")  # fmt: skip
        if (record.input.sha256, record.input.size) != (identity.sha256, identity.size):
            raise InputError(f"{out}: cannot resume: it was written from a different input ({record.input.path}, "
                             f"{record.input.size:,} bytes; {in_path} is {identity.size:,} bytes with other content); "
                             "pass --force to start over")  # fmt: skip
        if record.model != model():
            raise InputError(f"{out}: cannot resume: it was coded by model {_model_label(record.model)}, this run uses "
                             f"{_model_label(model())}; pass --force to start over")  # fmt: skip
        done, end, last = _complete_lines(out)
        if done > identity.lines:
            raise InputError(f"{out}: cannot resume: it has {done:,} lines but the input has only {identity.lines:,}")
        if done:
            try:
                last_id = json.loads(last)["id"]
            except (ValueError, KeyError, TypeError):
                raise InputError(f"{out}: cannot resume: line {done} is not a suggestion; pass --force to start over") from None
            expected = None
            for k, result in enumerate(iter_jsonl(in_path, NoteIn), start=1):
                if k == done:
                    expected = _expected_id(result)
                    break
            if last_id != expected:
                raise InputError(f"{out}: cannot resume: output line {done} has id {last_id!r}, the input's line at "
                                 f"that position has id {expected!r}; pass --force to start over")  # fmt: skip
        if out.stat().st_size != end:
            with out.open("r+b") as fh:
                fh.truncate(end)  # drop the half-written last line
        _write_record(rec_path, RunRecord(input=identity, model=model()))
        return done, identity
    info = model()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(b"")
    _write_record(rec_path, RunRecord(input=identity, model=info))
    return 0, identity


def _model_label(model: dict) -> str:
    return f"{model.get('artifact_version') or model.get('name')} (pipeline {model.get('pipeline')})"


# One item sent to a worker: (line number, note id or None, text or None, error or None, raw id or None).
Item = tuple[int, str | None, str | None, str | None, str | None]


def _item(result: LineResult) -> Item:
    if result.record is not None:
        return (result.line, result.record.id, result.record.text, None, result.raw_id)
    return (result.line, None, None, result.error or "unreadable line", result.raw_id)


def _dump(suggestion: Suggestion) -> str:
    return json.dumps(suggestion.model_dump(exclude_none=True), ensure_ascii=False) + "\n"


def code_chunk(engine: Engine, items: list[Item], source: str = "") -> list[tuple[str, bool]]:
    """Code one chunk: (output line, is error) per item, in order. Notes go through nlp.pipe together."""
    notes = [NoteIn(id=note_id, text=text) for _line, note_id, text, error, _raw in items if error is None]
    coded: list[Suggestion | None]
    try:
        coded = list(engine.suggest_many(notes, batch_size=max(1, len(notes))))
    except Exception:  # noqa: BLE001 - one bad note must not sink its chunk: retry one by one below
        coded = [None] * len(notes)
    out: list[tuple[str, bool]] = []
    k = 0
    for line, note_id, text, error, raw_id in items:
        if error is not None:
            out.append((_dump(error_record(engine, line, error, raw_id)), True))
            continue
        suggestion = coded[k]
        k += 1
        if suggestion is None:
            try:
                suggestion = engine.suggest(text, note_id)
            except DermCoderError as exc:
                out.append((_dump(error_record(engine, line, f"{source}:{line}: {exc}", note_id)), True))
                continue
            except Exception as exc:  # noqa: BLE001 - keep the line; the type only, never note text
                msg = f"{source}:{line}: internal error while coding this note ({type(exc).__name__}); rerun it alone with DERMCODER_DEBUG=1"
                out.append((_dump(error_record(engine, line, msg, note_id)), True))
                continue
        out.append((_dump(suggestion), False))
    return out


# Worker processes: one engine each, built once by the pool initializer.
_WORKER_ENGINE: Engine | None = None
_WORKER_FAILURE: str | None = None


def _init_worker(model: str | None) -> None:
    # An exception escaping a Pool initializer makes the pool respawn workers forever:
    # keep the message and report it on the first chunk instead.
    global _WORKER_ENGINE, _WORKER_FAILURE
    from dermcoder.engine import Engine, get_engine

    try:
        _WORKER_ENGINE = Engine(model) if model is not None else get_engine()
    except DermCoderError as exc:
        _WORKER_FAILURE = str(exc)
    except Exception as exc:  # noqa: BLE001
        _WORKER_FAILURE = f"worker could not build the engine ({type(exc).__name__})"


def _worker_code_chunk(items: list[Item], source: str) -> list[tuple[str, bool]]:
    if _WORKER_ENGINE is None:
        raise DermCoderError(_WORKER_FAILURE or "worker has no engine")
    return code_chunk(_WORKER_ENGINE, items, source)


def _chunks(results: Iterable[LineResult], size: int) -> Iterator[list[Item]]:
    chunk: list[Item] = []
    for result in results:
        chunk.append(_item(result))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _skip(results: Iterator[LineResult], n: int) -> Iterator[LineResult]:
    for k, result in enumerate(results):
        if k >= n:
            yield result


def run_batch(
    in_path: str | Path,
    out_path: str | Path,
    engine: Engine | None = None,
    on_line: Callable[[BatchStats], None] | None = None,
    *,
    workers: int = 1,
    resume: bool = False,
    force: bool = False,
    chunk_size: int = DEFAULT_CHUNK,
    model: str | None = None,
    on_start: Callable[[BatchStats], None] | None = None,
) -> BatchStats:
    """Code every line of `in_path` into `out_path` (contracts section 2, one line per input line).

    `on_start(stats)` is called once the input is identified (stats.total, stats.resumed
    set); `on_line(stats)` after each chunk is written. `model` picks the scorer for an
    engine built here (None = DERMCODER_MODEL / the shipped model).
    """
    if workers < 1:
        raise InputError(f"--workers must be 1 or more, not {workers}")
    if chunk_size < 1:
        raise InputError(f"chunk size must be 1 or more, not {chunk_size}")
    open_checked(in_path)  # a missing input must fail before the output file is created
    started = time.perf_counter()
    # The output and its record are checked before the engine is built: a refusal comes at once.
    info_cache: list = []

    def model_info() -> dict:
        if not info_cache:
            info_cache.append(engine.model_info if engine is not None else _peek_model_info(model))
        return info_cache[0].model_dump()

    done, identity = prepare_output(in_path, out_path, model_info, resume=resume, force=force)
    local = engine
    if local is None and workers == 1:
        from dermcoder.engine import Engine, get_engine

        local = Engine(model) if model is not None else get_engine()
    stats = BatchStats(lines=done, resumed=done, total=identity.lines)
    if on_start:
        on_start(stats)
    chunks = _chunks(_skip(iter_jsonl(in_path, NoteIn), done), chunk_size)
    source = str(in_path)
    out = Path(out_path)
    with out.open("ab") as fh:

        def write(lines: list[tuple[str, bool]]) -> None:
            fh.write("".join(text for text, _err in lines).encode("utf-8"))
            fh.flush()  # a killed run keeps every chunk written so far
            for _text, is_error in lines:
                stats.lines += 1
                stats.errors += is_error
                stats.coded += not is_error
            if on_line:
                on_line(stats)

        if workers == 1:
            for chunk in chunks:
                write(code_chunk(local, chunk, source))
        else:
            context = multiprocessing.get_context("spawn")  # no fork of a process with threads (progress bar)
            with context.Pool(workers, initializer=_init_worker, initargs=(model,)) as pool:
                pending: deque = deque()
                for chunk in chunks:
                    pending.append(pool.apply_async(_worker_code_chunk, (chunk, source)))
                    if len(pending) >= 2 * workers:  # bounded: memory stays flat on any input size
                        write(pending.popleft().get())
                while pending:
                    write(pending.popleft().get())
        os.fsync(fh.fileno())
    stats.seconds = time.perf_counter() - started
    _write_record(record_path(out_path), RunRecord(input=identity, model=model_info(), complete=True))
    return stats


def _peek_model_info(model: str | None):
    """The ModelInfo an engine would report, read from the artifact's card without unpickling it."""
    from dermcoder import __version__
    from dermcoder.contracts import ModelInfo
    from dermcoder.nlp.pipeline import PIPELINE_VERSION
    from dermcoder.training.model import RULES_ONLY, model_name_from_env, peek_model

    name = model if model is not None else model_name_from_env()
    if name == RULES_ONLY:
        return ModelInfo(version=__version__, pipeline=PIPELINE_VERSION, name="rules", artifact_version=None)
    artifact_name, artifact_version = peek_model(name)
    return ModelInfo(version=__version__, pipeline=PIPELINE_VERSION, name=artifact_name, artifact_version=artifact_version)
