"""The README findings block and ``docs/figures``, rewritten from a report (never by hand)."""

from __future__ import annotations

from pathlib import Path

from divergence.errors import DivergenceError

README_START = "<!-- findings:start (written by `divergence report --update-readme`) -->"
README_END = "<!-- findings:end -->"
README_FIGURES = [
    "open_closed_by_domain.png",
    "frontier_domains.png",
    "divergence_top.png",
    "reliability_trend.png",
    "claimed_vs_independent.png",
]


def update_readme(report_dir: str | Path, readme: str | Path, figures_dir: str | Path) -> Path:
    """Replace the findings block of ``readme`` with a report's headline and key figures.

    The block between :data:`README_START` and :data:`README_END` is rewritten from
    ``headline.md``; :data:`README_FIGURES` are copied to ``figures_dir``.
    """
    from divergence.atomic import atomic_file

    report_dir, readme, figures_dir = Path(report_dir), Path(readme), Path(figures_dir)
    text = readme.read_text(encoding="utf-8")
    if README_START not in text or README_END not in text:
        raise DivergenceError(
            f"{readme}: findings markers not found ({README_START!r} ... {README_END!r})"
        )
    figures_dir.mkdir(parents=True, exist_ok=True)
    rel = figures_dir.resolve().relative_to(readme.resolve().parent)
    imgs = []
    for name in README_FIGURES:
        data = (report_dir / name).read_bytes()
        with atomic_file(figures_dir / name) as fh:
            fh.write(data)
        imgs.append(f"![{name[:-4].replace('_', ' ')}]({rel.as_posix()}/{name})")
    head = (report_dir / "headline.md").read_text(encoding="utf-8")
    block = f"{README_START}\n{head}\n" + "\n".join(imgs) + f"\n{README_END}"
    before, rest = text.split(README_START, 1)
    after = rest.split(README_END, 1)[1]
    with atomic_file(readme, "w") as fh:
        fh.write(before + block + after)
    return readme
