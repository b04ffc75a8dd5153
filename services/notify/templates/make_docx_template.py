"""Write `document.docx`, the docxtpl template of the official documents (run once; an admin may replace the file).

The styles name the official fonts (方正小标宋简体 for the title, 仿宋_GB2312 for the body, 黑体 for headings) so the
leaders' Word renders the document as a government document (GB/T 9704); the machine that renders PDFs uses Noto CJK.
"""

from __future__ import annotations

from pathlib import Path

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

HERE = Path(__file__).resolve().parent
RED = RGBColor(0xD0, 0x00, 0x00)


def _fonts(style: object, east_asia: str, size: float, *, bold: bool = False) -> None:
    font = style.font  # type: ignore[attr-defined]
    font.name = "Times New Roman"
    font.size = Pt(size)
    font.bold = bold
    rpr = style.element.get_or_add_rPr()  # type: ignore[attr-defined]
    rpr.get_or_add_rFonts().set(qn("w:eastAsia"), east_asia)


def _red_rule(paragraph: object) -> None:
    ppr = paragraph._p.get_or_add_pPr()  # type: ignore[attr-defined]
    border = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for k, v in (("w:val", "single"), ("w:sz", "18"), ("w:space", "4"), ("w:color", "D00000")):
        bottom.set(qn(k), v)
    border.append(bottom)
    ppr.append(border)


def main() -> None:
    """Build the template."""
    doc = Document()
    sec = doc.sections[0]
    sec.page_width, sec.page_height = Mm(210), Mm(297)
    sec.top_margin, sec.bottom_margin, sec.left_margin, sec.right_margin = Mm(37), Mm(35), Mm(28), Mm(26)
    _fonts(doc.styles["Normal"], "仿宋_GB2312", 16)
    for name, face, size, bold in (("发文机关", "方正小标宋简体", 26, False), ("公文标题", "方正小标宋简体", 22, False),
                                   ("一级标题", "黑体", 16, False), ("表格", "仿宋_GB2312", 10.5, False)):
        style = doc.styles.add_style(name, 1)
        style.base_style = doc.styles["Normal"]
        _fonts(style, face, size, bold=bold)
    office = doc.add_paragraph("{{ office }}", style="发文机关")
    office.alignment = WD_ALIGN_PARAGRAPH.CENTER
    office.runs[0].font.color.rgb = RED
    number = doc.add_paragraph("{{ number }}")
    number.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _red_rule(number)
    doc.add_paragraph("", style="Normal")
    doc.add_paragraph("{{ title }}", style="公文标题").alignment = WD_ALIGN_PARAGRAPH.CENTER
    doc.add_paragraph("{{ to }}:")
    doc.add_paragraph("{%p for para in paragraphs %}")
    doc.add_paragraph("{{ para }}").paragraph_format.first_line_indent = Pt(32)
    doc.add_paragraph("{%p endfor %}")
    doc.add_paragraph("{{p tables }}")  # a subdocument: the tables, built from the template's own styles
    doc.add_paragraph("")
    doc.add_paragraph("{{ office }}").alignment = WD_ALIGN_PARAGRAPH.RIGHT
    doc.add_paragraph("{{ date_zh }}").alignment = WD_ALIGN_PARAGRAPH.RIGHT
    cc = doc.add_paragraph("抄送:{{ cc }}")
    _red_rule(cc)
    doc.save(str(HERE / "document.docx"))


if __name__ == "__main__":
    main()
