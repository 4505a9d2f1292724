"""`derm_sections`: which part of the note a mention sits in.

medspaCy's sectionizer with our header patterns (nlp/resources/section_patterns.json,
in medspaCy's own rule format). Each entity gets `span._.section`: procedure, findings,
pathology, assessment_plan, assessment, history, medications, boilerplate, or None
before the first header. The context step reads it: plan and history sections make
mentions hypothetical and historical by default.
"""

from __future__ import annotations

import bisect
import json

from medspacy.section_detection import Sectionizer, SectionRule
from spacy.language import Language
from spacy.tokens import Doc

from dermcoder.nlp._extensions import SPAN_GROUP, direct_span_data, note_text
from dermcoder.nlp._medspacy import share_note_text, use_direct_token_sections
from dermcoder.nlp.lexicons import resources_dir
from dermcoder.nlp.resource_io import ResourceBacked


def load_section_rules(directory=None) -> list[SectionRule]:
    """Our section header rules, in medspaCy's JSON format."""
    data = json.loads(((directory or resources_dir()) / "section_patterns.json").read_text(encoding="utf-8"))
    return [SectionRule(**rule) for rule in data["section_rules"]]


@Language.factory("derm_sections", assigns=["doc._.derm_sections"], default_config={})
def make_sections(nlp, name):  # untyped: spaCy validates factory signatures
    """Factory: medspaCy Sectionizer loaded with DermCoder's header patterns."""
    return SectionTagger(nlp)


class SectionTagger(ResourceBacked):
    """Runs the sectionizer and stamps each entity with its section category."""

    resource_files = ("section_patterns.json",)
    # Headers start a line; "path rec'd" inside a history sentence is not a pathology section.
    require_start_line = True

    def __init__(self, nlp: Language) -> None:
        self.nlp = nlp
        self.init_resources()

    def load_resources(self) -> None:
        self.sectionizer = Sectionizer(self.nlp, name="derm_sectionizer", rules=None, input_span_type=None, span_attrs=None,
                                       require_start_line=self.require_start_line)  # fmt: skip
        self.sectionizer.add(load_section_rules(self.resource_dir))
        share_note_text(self.sectionizer)  # same matches, the text read once per note (nlp/_medspacy.py)
        # same sections and token stamps, written without a Python object per token (nlp/_medspacy.py)
        use_direct_token_sections(self.sectionizer, self.nlp.make_doc("Plan: probe"))

    def __call__(self, doc: Doc) -> Doc:
        doc = self.sectionizer(doc)
        sections = []
        for section in doc._.sections:
            # Sections hold token indices; the frame builder works in characters.
            first = min(section.title_start, section.body_start)
            start = doc[first].idx if first < len(doc) else len(note_text(doc))
            end = doc[section.body_end - 1].idx + len(doc[section.body_end - 1]) if section.body_end > 0 else start
            sections.append((start, end, section.category))
        # A pathology report keeps its own "Dx:"/"Diagnosis:"/"Findings:" sub-headers: they stay
        # pathology until a plan, procedure or history section starts.
        in_path = False
        for k, (start, end, category) in enumerate(sections):
            if category == "pathology":
                in_path = True
            elif category in ("assessment_plan", "procedure", "history", "present_illness", "medications"):
                in_path = False
            elif in_path:
                sections[k] = (start, end, "pathology")
        sections = _one_line_fields(note_text(doc), sections)
        doc._.derm_sections = sections
        starts = [s[0] for s in sections]
        spans = doc.spans.get(SPAN_GROUP, [])
        if direct_span_data(doc, spans, ("char_start", "section")):
            # straight in user_data, as `span._` stores it (nlp/_extensions.py)
            data = doc.user_data
            for span in spans:
                a, b = span.start_char, span.end_char
                i = bisect.bisect_right(starts, data.get(("._.", "char_start", a, b))) - 1
                data[("._.", "section", a, b)] = sections[i][2] if i >= 0 else None
            return doc
        for span in spans:
            u = span._  # each `span._` builds a new accessor object: once per span
            i = bisect.bisect_right(starts, u.char_start) - 1
            u.section = sections[i][2] if i >= 0 else None
        return doc


# A history or medication header with its content on its own line ("History: BCC left ear
# treated with Mohs 2019.") is a one-line field: the lines after it are today's again.
ONE_LINE_FIELDS = ("history", "medications")


def _one_line_fields(text: str, sections: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    out: list[tuple[int, int, str]] = []
    for start, end, category in sections:
        line_end = text.find("\n", start, end)
        colon = text.find(":", start, line_end if line_end >= 0 else end)
        if category in ONE_LINE_FIELDS and line_end >= 0 and colon >= 0 and text[colon + 1 : line_end].strip():
            out.append((start, line_end, category))
            out.append((line_end + 1, end, None))
            continue
        out.append((start, end, category))
    return out

