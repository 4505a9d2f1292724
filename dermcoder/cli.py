"""The `dermcoder` command: a thin typer layer over typed functions.

Every command calls a function that returns data (engine, batch, evaluator, corpus
checker); this module only reads arguments, prints and picks exit codes. Bad input
gives a one-line message and exit code 2, never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from dermcoder import __version__
from dermcoder.errors import DermCoderError, InputError

app = typer.Typer(
    name="dermcoder",
    help="Suggest CPT and ICD-10-CM codes, with evidence, from dermatology procedure notes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
tables_app = typer.Typer(help="Inspect and check the code tables.", no_args_is_help=True)
corpus_app = typer.Typer(help="Check and split the labeled corpus.", no_args_is_help=True)
app.add_typer(tables_app, name="tables")
feedback_app = typer.Typer(help="Coder feedback stored by the service.", no_args_is_help=True)
app.add_typer(corpus_app, name="corpus")
app.add_typer(feedback_app, name="feedback")

out = Console()


def eprint(message: str) -> None:
    """One plain line on stderr: no wrapping, so each message stays one greppable line."""
    sys.stderr.write(message.rstrip("\n") + "\n")


def fail(message: str, code: int = 2) -> None:
    """Print a one-line error to stderr and exit non-zero."""
    eprint(f"error: {message}")
    raise typer.Exit(code)


def _read_text(source: str) -> str:
    if source == "-":
        data = sys.stdin.buffer.read()
        name = "stdin"
    else:
        path = Path(source)
        if not path.exists():
            raise InputError(f"{path}: file not found")
        if path.is_dir():
            raise InputError(f"{path}: is a directory, expected a text file")
        data = path.read_bytes()
        name = str(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not UTF-8 (byte {exc.start}); save the note as UTF-8 text") from None
    if not text.strip():
        raise InputError(f"{name}: the note is empty")
    return text


@app.command()
def suggest(
    source: str = typer.Argument("-", metavar="[FILE|-]", help="Note text file, or - for standard input."),
    note_id: str = typer.Option("note", "--id", help="Id to put on the suggestion."),
) -> None:
    """Code one note and print its suggestion JSON (contracts section 2)."""
    from dermcoder.engine import get_engine

    text = _read_text(source)
    suggestion = get_engine().suggest(text, note_id)
    print(json.dumps(suggestion.model_dump(exclude_none=True), ensure_ascii=False, indent=2))


@app.command()
def batch(
    in_path: Path = typer.Argument(..., metavar="IN.jsonl", help="Notes, one JSON object per line with id and text."),
    out_path: Optional[Path] = typer.Argument(None, metavar="[OUT.jsonl]", help="Where to write the suggestions (JSONL); or use -o."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Where to write the suggestions (JSONL)."),
    fhir: bool = typer.Option(False, "--fhir", help="Write one FHIR Bundle (Claim, Procedures, Conditions) per line."),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="Processes coding in parallel, each loading the engine once."),
    resume: bool = typer.Option(False, "--resume", help="Continue an output left by an interrupted run of the same input."),
    force: bool = typer.Option(False, "--force", help="Overwrite a non-empty output."),
    chunk: int = typer.Option(32, "--chunk", min=1, help="Notes per nlp.pipe chunk (also the unit sent to a worker)."),
) -> None:
    """Code every note of a JSONL file: one output line per input line, same id and order.

    Streams (flat memory on any file size), shows a progress bar on a terminal, and
    can be killed at any moment and continued with --resume. A record of the input and
    model is kept beside the output in OUT.jsonl.batch.json.
    """
    from contextlib import ExitStack

    from dermcoder.batch import run_batch
    from dermcoder.progress import note_progress

    if out_path is not None and output is not None and out_path != output:
        fail(f"two outputs given ({out_path} and -o {output}); give one")
    target = out_path or output
    if target is None:
        fail("no output given: dermcoder batch IN.jsonl OUT.jsonl (or -o OUT.jsonl)")
    if resume and force:
        fail("--resume and --force contradict each other: --resume continues the output, --force starts it over")
    final = target
    if fhir:
        # Suggestions first (the batch contract, resumable), then each line rewritten as a Bundle.
        if final.exists() and final.stat().st_size > 0 and not (resume or force):
            fail(f"{final}: already exists and is not empty; pass --resume to continue it or --force to overwrite it")
        target = final.with_name(final.name + ".suggestions.tmp")
    with ExitStack() as stack:
        update = [lambda completed: None]

        def on_start(stats) -> None:  # the total is known once the input has been read through
            update[0] = stack.enter_context(note_progress(stats.total, "coding", done=stats.resumed))

        stats = run_batch(in_path, target, workers=workers, resume=resume, force=force, chunk_size=chunk,
                          on_start=on_start, on_line=lambda s: update[0](s.lines))  # fmt: skip
    if fhir:
        from dermcoder.batch import record_path
        from dermcoder.fhir import suggestions_to_bundles

        suggestions_to_bundles(target, final)
        target.unlink(missing_ok=True)  # kept until here so that a killed run can be resumed
        record_path(target).unlink(missing_ok=True)
        target = final
    new = stats.lines - stats.resumed
    resumed = f", {stats.resumed} already done" if stats.resumed else ""
    eprint(f"{stats.lines} lines: {stats.coded} coded, {stats.errors} error record(s){resumed}; "
           f"{new} coded now in {stats.seconds:.1f} s with start-up ({stats.notes_per_second:.1f} notes/s) -> {target}")  # fmt: skip
    if stats.total == 0:
        fail(f"{in_path}: file is empty")


@app.command()
def spark(
    in_path: Path = typer.Argument(..., metavar="IN.jsonl", help="Notes, one JSON object per line with id and text."),
    out_path: Path = typer.Argument(..., metavar="OUT", help="Output directory of part files (or one file with --single-file)."),
    master: str = typer.Option("local[*]", "--master", help="Spark master URL, e.g. local[4] or spark://host:7077."),
    single_file: bool = typer.Option(False, "--single-file", help="Concatenate the parts, in order, into one JSONL file OUT."),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Notes per Arrow batch (coded together through nlp.pipe)."),
    force: bool = typer.Option(False, "--force", help="Overwrite a non-empty OUT."),
) -> None:
    """Code a JSONL file with PySpark: mapInPandas, one engine per Python worker, lines in input order.

    OUT is a directory of part files (part-00000-*, part-00001-*, ...): read in name
    order they hold one suggestion per input line, in input order. See docs/batch.md.
    """
    import importlib.util

    if importlib.util.find_spec("pyspark") is None:
        fail("PySpark is not installed; install the extra: pip install 'dermcoder[spark]'")
    from dermcoder.spark import check_paths, code_jsonl, java_missing, local_session

    check_paths(in_path, out_path, force=force)
    reason = java_missing()
    if reason:
        fail(reason)
    session = local_session(master)
    try:
        result = code_jsonl(session, in_path, out_path, batch_size=batch_size, single_file=single_file, force=force)
    finally:
        session.stop()
    eprint(f"{result['lines']} lines: {result['coded']} coded, {result['errors']} error record(s) -> {result['output']}")
    if result["lines"] == 0:
        fail(f"{in_path}: file is empty")


def _print_report(report, as_json: bool) -> None:
    from dermcoder.training.evaluate import summary_rows

    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
        return
    table = Table(title="DermCoder evaluation (contracts section 3)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in summary_rows(report):
        table.add_row(name, value)
    out.print(table)
    codes = Table(title="Per-code table")
    for col in ("code", "support", "predicted", "precision", "recall", "F1"):
        codes.add_column(col, justify="right" if col != "code" else "left")
    for row in report.per_code:
        codes.add_row(row["code"], str(row["support"]), str(row["predicted"]),
                      f"{row['precision']:.3f}", f"{row['recall']:.3f}", f"{row['f1']:.3f}")  # fmt: skip
    out.print(codes)
    if report.missing_predictions:
        eprint(f"warning: {len(report.missing_predictions)} gold note(s) had no prediction (scored as empty)")
    if report.unmatched_predictions:
        eprint(f"warning: {len(report.unmatched_predictions)} prediction(s) have ids not in gold (ignored)")
    if report.prediction_errors:
        eprint(f"warning: {len(report.prediction_errors)} prediction line(s) are error records")


@app.command()
def evaluate(
    gold_path: Path = typer.Argument(..., metavar="GOLD.jsonl", help="Labeled notes (contracts section 1)."),
    pred: Optional[Path] = typer.Option(None, "--pred", help="Suggestions JSONL; omitted = run batch internally."),
    split: Optional[str] = typer.Option(None, "--split", help="Only gold notes of this split (train/dev/test)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    model: Optional[str] = typer.Option(None, "--model", help="Scorer when coding here: a shipped model name, an artifact folder, or 'none' (rules only). Default: DERMCODER_MODEL or the shipped model."),
    plots: Optional[Path] = typer.Option(None, "--plots", metavar="DIR", help="Write reliability plots (PNG) of line and note confidence into DIR."),
    errors: bool = typer.Option(False, "--errors", help="Also print the remaining differences grouped by code family (or kind of diagnosis) and cause, with note ids to read."),
) -> None:
    """Score suggestions against gold and print every metric of contracts section 3 (plus calibration)."""
    from dermcoder.contracts import LabeledNote, PredictionIn
    from dermcoder.jsonl import read_jsonl
    from dermcoder.training.evaluate import evaluate as run_evaluate

    gold, problems = read_jsonl(gold_path, LabeledNote)
    for p in problems:
        eprint(f"error: {p}")
    if problems:
        fail(f"{gold_path}: {len(problems)} unreadable line(s); fix them before scoring")
    if split:
        if split not in ("train", "dev", "test"):
            fail(f"--split must be train, dev or test, not {split!r}")
        gold = [g for g in gold if g.split == split]
        if not gold:
            fail(f"{gold_path}: no notes with split == {split!r}")
    if pred is not None:
        predictions, pred_problems = read_jsonl(pred, PredictionIn)
        for p in pred_problems:
            eprint(f"error: {p}")
        if pred_problems:
            fail(f"{pred}: {len(pred_problems)} unreadable line(s)")
    else:
        from dermcoder.engine import Engine, get_engine

        engine = Engine(model) if model is not None else get_engine()
        predictions = []
        with _progress(len(gold), "coding", quiet=as_json) as advance:
            for g in gold:
                predictions.append(PredictionIn.model_validate(engine.suggest(g.text, g.id).model_dump()))
                advance(1)
    report = run_evaluate(gold, predictions)
    _print_report(report, as_json)
    if errors and not as_json:
        _print_error_causes(report.error_causes)
    if plots is not None:
        from dermcoder.training.calibration import reliability_plot
        from dermcoder.training.evaluate import calibration_items

        items = calibration_items(gold, predictions)
        written = [
            reliability_plot(items.line_confidence, items.line_right, plots / "reliability-cpt-lines.png", "CPT line confidence"),
            reliability_plot(items.note_confidence, items.note_exact, plots / "reliability-notes.png", "Note confidence (exact match)"),
        ]
        eprint("wrote " + ", ".join(str(p) for p in written))


def _print_error_causes(groups: list[dict]) -> None:
    table = Table(title="Remaining differences by cause (training/error_causes.py)")
    for col in ("system", "family / kind", "cause", "differences", "notes", "examples"):
        table.add_column(col, justify="right" if col in ("differences", "notes") else "left")
    for g in groups:
        table.add_row(g["system"], g["group"], g["cause"], str(g["differences"]), str(g["notes"]), " ".join(g["examples"]))
    if not groups:
        table.add_row("-", "-", "no differences", "0", "0", "")
    # piped to a file, rich's 80 columns would cut the family names; a terminal keeps its width
    (out if out.is_terminal else Console(width=160)).print(table)


@contextmanager
def _progress(total: int, label: str, quiet: bool = False):
    """A rich progress bar on stderr; yields advance(n). Silent when quiet or not a terminal."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    err = Console(stderr=True)
    if quiet or not err.is_terminal:
        yield lambda n=1: None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n=1: bar.advance(task, n)


@app.command()
def train(
    corpus: Path = typer.Argument(Path("corpus/sample/notes.jsonl"), metavar="[CORPUS.jsonl]", help="Labeled notes with splits."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Artifact folder (default: models/<name> in this checkout)."),
    name: str = typer.Option("derm-lr-v1", "--name", help="Artifact name, written into meta.json and every suggestion."),
    feedback: list[Path] = typer.Option([], "--feedback", help="Coder feedback as labeled notes (from `dermcoder feedback export`); added to training. Repeatable."),
    estimator: str = typer.Option("logistic", "--estimator", help="logistic (the product) or dummy (a DummyClassifier baseline)."),
    change: str = typer.Option("retrained", "--change", help="What changed in this artifact, for its model card."),
    artifact_version: str = typer.Option("1", "--version", help="Artifact version written into meta.json."),
) -> None:
    """Train the scorer on the train split (plus feedback), tune it on dev, write model.joblib + meta.json."""
    from dermcoder.contracts import LabeledNote
    from dermcoder.engine import Engine
    from dermcoder.jsonl import read_jsonl
    from dermcoder.training.train import code_notes, train_scorer, write_artifact

    if estimator not in ("logistic", "dummy"):
        fail(f"--estimator must be logistic or dummy, not {estimator!r}")
    notes, problems = read_jsonl(corpus, LabeledNote)
    for p in problems:
        eprint(f"error: {p}")
    if problems:
        fail(f"{corpus}: {len(problems)} unreadable line(s); fix them before training")
    train_notes = [n for n in notes if n.split == "train"]
    dev_notes = [n for n in notes if n.split == "dev"]
    if not train_notes or not dev_notes:
        fail(f"{corpus}: training needs notes with split 'train' and 'dev' (found {len(train_notes)} and {len(dev_notes)})")
    held_out_texts = {n.text for n in notes if n.split in ("dev", "test")}
    extra: list[LabeledNote] = []
    for path in feedback:
        fb, fb_problems = read_jsonl(path, LabeledNote)
        for p in fb_problems:
            eprint(f"error: {p}")
        if fb_problems:
            fail(f"{path}: {len(fb_problems)} unreadable feedback line(s)")
        leaked = [n.id for n in fb if n.text in held_out_texts]
        if leaked:
            eprint(f"warning: {path}: {len(leaked)} feedback note(s) repeat a dev/test note and are left out: {', '.join(leaked[:5])}")
        extra += [n.model_copy(update={"split": "train"}) for n in fb if n.text not in held_out_texts]
    train_notes += extra

    engine = Engine(model="none")  # candidates come from the rules alone
    with _progress(len(train_notes) + len(dev_notes), "running the rules") as advance:
        coded_train = code_notes(train_notes, engine, advance)
        coded_dev = code_notes(dev_notes, engine, advance)
    artifact, report = train_scorer(coded_train, coded_dev, estimator=estimator)
    target = out_dir or Path("models") / name
    meta = write_artifact(target, name, artifact, report, train_notes, dev_notes, len(extra), estimator, change, artifact_version)
    print(f"wrote {target}/model.joblib and meta.json ({meta['split_counts']})")
    for key, value in report.items():
        print(f"  {key}: {value}")
    print(f"  thresholds: {meta['thresholds']}")


@app.command()
def extract(
    source: str = typer.Argument("-", metavar="[NOTE|-]", help="Note text file, or - for standard input."),
    as_json: bool = typer.Option(False, "--json", help="Print the frames as JSON."),
    show_entities: bool = typer.Option(False, "--entities", help="Also list every entity with its context."),
) -> None:
    """Show what the pipeline read: per-lesion frames (and, with --entities, every mention)."""
    from dermcoder.engine import get_engine
    from dermcoder.nlp.frames import mentions_from_doc

    text = _read_text(source)
    engine = get_engine()
    suggestion = engine.suggest(text, "note")
    if as_json:
        print(json.dumps([f.model_dump(exclude_none=True) for f in suggestion.lesions], indent=2, ensure_ascii=False))
    else:
        table = Table(title="Lesion frames")
        for col in ("#", "procedure", "site", "side", "histology", "size cm", "margin cm", "excised cm", "repair", "area sq cm"):
            table.add_column(col)
        for f in suggestion.lesions:
            table.add_row(f.label or "", f.procedure or "", f.site or "", f.laterality or "", f.histology or "",
                          _num(f.lesion_size_cm), _num(f.narrowest_margin_cm), f.excised_diameter_arithmetic or "",
                          " ".join(x for x in (f.repair_type, _num(f.repair_length_cm)) if x), _num(f.area_sq_cm))  # fmt: skip
        out.print(table)
    if show_entities:
        table = Table(title="Entities")
        for col in ("label", "text", "normalized", "section", "context (cue)"):
            table.add_column(col)
        for m in mentions_from_doc(engine.nlp(text)):
            cue = f"{', '.join(m.context)} ({m.cue})" if m.context else ""
            table.add_row(m.label, m.text, str(m.canonical if m.canonical not in ("cm", "sq cm") else m.value), m.section or "", cue)
        out.print(table)


def _num(value) -> str:
    return "" if value is None else f"{value:g}"


@app.command()
def spans(
    gold_path: Path = typer.Argument(Path("corpus/sample/notes.jsonl"), metavar="GOLD.jsonl", help="Span-annotated notes."),
    split: Optional[str] = typer.Option(None, "--split", help="Only notes of this split (train/dev/test)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Entity span precision / recall / F1 per label, and context accuracy where the gold labels context."""
    from dermcoder.contracts import LabeledNote
    from dermcoder.engine import get_engine
    from dermcoder.jsonl import read_jsonl
    from dermcoder.training.context import evaluate_context
    from dermcoder.training.spans import evaluate_spans

    notes, problems = read_jsonl(gold_path, LabeledNote)
    if problems:
        for p in problems:
            eprint(f"error: {p}")
        fail(f"{gold_path}: {len(problems)} unreadable line(s)")
    if split:
        notes = [n for n in notes if n.split == split]
    nlp = get_engine().nlp
    report = evaluate_spans(notes, nlp)
    if report.notes == 0:
        fail(f"{gold_path}: no span-annotated notes{' in split ' + split if split else ''}")
    context = evaluate_context(notes, nlp)
    rows = report.rows()
    micro = report.micro()
    if as_json:
        body = {"notes": report.notes, "labels": rows, "micro": micro.as_dict(), "micro_lenient": report.micro("lenient").as_dict()}
        if context.mentions:
            body["context"] = context.as_dict()
        print(json.dumps(body, indent=2))
        return
    table = Table(title=f"Entity spans, {report.notes} notes{' (' + split + ')' if split else ''}")
    for col in ("label", "gold", "predicted", "precision", "recall", "F1 (strict)", "F1 (overlap)"):
        table.add_column(col, justify="right" if col != "label" else "left")
    for r in rows:
        table.add_row(r["label"], str(r["gold"]), str(r["predicted"]), f"{r['precision']:.3f}", f"{r['recall']:.3f}",
                      f"{r['f1']:.3f}", f"{r['lenient_f1']:.3f}")  # fmt: skip
    table.add_row("micro", str(micro.n_gold), str(micro.n_pred), f"{micro.precision:.3f}", f"{micro.recall:.3f}",
                  f"{micro.f1:.3f}", f"{report.micro('lenient').f1:.3f}")  # fmt: skip
    out.print(table)
    if context.mentions:
        _print_context(context, split)


def _print_context(context, split: str | None) -> None:
    """The context-accuracy table of `spans` (only when the gold carries context labels)."""
    nc = context.not_current
    table = Table(title=f"Context of HISTOLOGY/PROCEDURE/REPAIR mentions, {context.notes} notes{' (' + split + ')' if split else ''}")
    for col in ("gold status", "mentions", "agree", "share"):
        table.add_column(col, justify="right" if col != "gold status" else "left")
    for status, row in context.as_dict()["per_status"].items():
        table.add_row(status, str(row["mentions"]), str(row["agree"]), f"{row['agree'] / row['mentions']:.3f}")
    out.print(table)
    out.print(f"mentions with a cue (gold or pipeline): {context.with_cue}; suppression accuracy "
              f"{context.suppression_accuracy:.3f}; category accuracy {context.category_accuracy:.3f}")
    out.print(f"not current: precision {nc.precision:.3f}, recall {nc.recall:.3f}, F1 {nc.f1:.3f}; "
              f"gold mentions the pipeline did not find: {context.unmatched} of {context.mentions}")


@tables_app.command("check")
def tables_check() -> None:
    """Validate every code table and print what was loaded."""
    from dermcoder.coding.tables import validate_tables

    tables, problems = validate_tables()
    if tables is None:
        for p in problems:
            eprint(f"error: {p}")
        fail(f"{len(problems)} problem(s) in the code tables")
    out.print(
        f"{len(tables.codes)} CPT/HCPCS codes, {len(tables.sites)} sites, "
        f"{len(tables.ptp)} active NCCI PTP edits, {len(tables.mue)} MUE values: OK"
    )


@corpus_app.command("check")
def corpus_check(
    path: Path = typer.Argument(Path("corpus/sample/notes.jsonl"), help="Labeled corpus JSONL."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Validate the labeled corpus and print its coverage per family, style and split."""
    from dermcoder.training.corpus import check_corpus, render_coverage

    result = check_corpus(path)
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        render_coverage(result, out)
    for p in result.problems:
        eprint(f"error: {p}")
    if result.problems:
        fail(f"{path}: {len(result.problems)} problem(s)")


@corpus_app.command("split")
def corpus_split(
    path: Path = typer.Argument(Path("corpus/sample/notes.jsonl"), help="Labeled corpus JSONL (rewritten in place)."),
    seed: int = typer.Option(13, help="Random seed for the stratified assignment."),
    test_share: float = typer.Option(0.3, help="Share of written notes that go to test."),
    dev_share: float = typer.Option(0.2, help="Share of written notes that go to dev."),
) -> None:
    """Assign train/dev/test to notes without a split, stratified by family (existing splits are kept)."""
    from dermcoder.training.corpus import assign_splits

    counts = assign_splits(path, seed=seed, test_share=test_share, dev_share=dev_share)
    out.print(f"splits: {counts}")


@corpus_app.command("import")
def corpus_import(
    parts: list[Path] = typer.Argument(..., help="Marked-up note files ([[text|LABEL]] in a `marked` field)."),
    output: Path = typer.Option(Path("corpus/sample/notes.jsonl"), "-o", "--output", help="Corpus file to append to."),
) -> None:
    """Convert marked-up notes to labeled notes with exact entity offsets and append them."""
    from dermcoder.training.corpus import import_marked

    for part in parts:
        if not part.is_file():
            fail(f"{part}: file not found")
    try:
        n = import_marked(parts, output)
    except (ValueError, KeyError) as exc:
        fail(str(exc))
    out.print(f"imported {n} note(s) into {output}")


@corpus_app.command("context")
def corpus_context(
    labels: list[Path] = typer.Argument(..., help="Context label files (JSONL, one note per line; see corpus/annotation-guide.md)."),
    path: Path = typer.Option(Path("corpus/sample/notes.jsonl"), "--corpus", help="Corpus file to update in place."),
) -> None:
    """Attach gold context labels (current, negated, historical, ...) to the corpus's entities."""
    from dermcoder.training.context_labels import merge_context_labels

    for f in [*labels, path]:
        if not f.is_file():
            fail(f"{f}: file not found")
    try:
        n, problems = merge_context_labels(path, labels)
    except (ValueError, KeyError) as exc:
        fail(f"unreadable label file: {exc}")
    for p in problems:
        eprint(f"error: {p}")
    if problems:
        fail(f"{len(problems)} label(s) refused; {path} left unchanged")
    out.print(f"labeled {n} mention(s) in {path}")


@feedback_app.command("export")
def feedback_export(
    output: Path = typer.Argument(..., metavar="OUT.jsonl", help="Where to write the labeled notes (contracts section 1)."),
    db: Optional[str] = typer.Option(None, "--db", help="SQLAlchemy URL of the store (default: DERMCODER_DATABASE_URL "
                                     "or the SQLite file under DERMCODER_DATA_DIR)."),
) -> None:
    """Write coder-reviewed notes as labeled notes, one line each, for training and evaluation."""
    from sqlalchemy.engine import make_url

    from dermcoder.service.store import FeedbackStore
    from dermcoder.settings import get_settings

    url = db or get_settings().store_url
    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001 - the store names the problem below
        parsed = None
    if parsed is not None and parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        if not Path(parsed.database).expanduser().is_file():
            fail(f"no feedback store at {parsed.database} (set --db or DERMCODER_DATABASE_URL)")
    store = FeedbackStore(url)
    try:
        result = store.export_feedback()
    finally:
        store.close()
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", encoding="utf-8") as fh:
        for note in result.notes:
            fh.write(json.dumps(note.model_dump(exclude_none=True), ensure_ascii=False) + "\n")
    eprint(f"{len(result.notes)} labeled note(s) -> {output}; {result.skipped} skipped: "
           f"{result.skipped_no_text} without stored note text (DERMCODER_STORE_NOTE_TEXT=1 keeps it), "
           f"{result.skipped_no_decision} never reviewed, {result.skipped_undecided} with CPT lines left undecided")  # fmt: skip


# More server processes than this by default would mostly add memory (~350 MB each).
MAX_DEFAULT_WORKERS = 4


def default_serve_workers() -> int:
    """Server processes when --workers is not given: one per usable CPU, at most MAX_DEFAULT_WORKERS.

    Coding a note is CPU-bound Python, so one process serves one core (the GIL); on a
    2-core machine two processes answer twice the requests before they queue.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_DEFAULT_WORKERS))


def serve_options(host: str, port: int, workers: int) -> dict:
    """The uvicorn.run arguments of `dermcoder serve` (each worker builds its own engine and store connection)."""
    from dermcoder.service.serving import PROTOCOL

    return {"app": "dermcoder.service.app:create_app", "factory": True, "host": host, "port": port,
            "workers": workers, "log_level": "info", "http": PROTOCOL}  # fmt: skip


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: Optional[int] = typer.Option(
        None, "--workers", "-w", min=1, envvar="DERMCODER_WORKERS", show_default=False,
        help=f"Server processes sharing the port (default: one per CPU, at most {MAX_DEFAULT_WORKERS}).",
    ),  # fmt: skip
) -> None:
    """Start the HTTP service."""
    import uvicorn

    from dermcoder.service.app import check_settings
    from dermcoder.service.supervisor import reuseport_supported, supervise
    from dermcoder.settings import settings_from_env

    check_settings(settings_from_env())  # a bad setting is one line here, not a server traceback

    options = serve_options(host, port, workers or default_serve_workers())
    if options["workers"] > 1 and reuseport_supported():
        # One SO_REUSEPORT socket per worker, so the kernel spreads the connections
        # (service/supervisor.py); elsewhere uvicorn's shared socket.
        count = options.pop("workers")
        raise typer.Exit(supervise(uvicorn.Config(**options, workers=1), count))
    uvicorn.run(**options)


@app.command()
def version() -> None:
    """Print versions of DermCoder, its code sets and tables."""
    from dermcoder.coding.icd import ICD_CODE_SET
    from dermcoder.coding.tables import NCCI_QUARTER

    out.print(f"dermcoder {__version__}; CPT 2025; {ICD_CODE_SET}; NCCI {NCCI_QUARTER}", highlight=False)


def main() -> None:
    """Console entry point: user errors are one line; unexpected errors never dump a traceback."""
    try:
        app()
    except DermCoderError as exc:
        eprint(f"error: {exc}")
        sys.exit(2)
    except KeyboardInterrupt:
        eprint("interrupted")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - last line of defence for the user
        if os.environ.get("DERMCODER_DEBUG"):
            raise
        eprint(f"error: internal error ({type(exc).__name__}); rerun with DERMCODER_DEBUG=1 for details")
        sys.exit(1)
