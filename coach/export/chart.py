"""The progress chart: score over time per round, as a PNG (matplotlib, imported only here)."""

from __future__ import annotations

from pathlib import Path

from coach.coaching.progress import ROUND_ORDER, TREND_WINDOW, Progress, round_label
from coach.errors import CoachError

ROUND_COLOURS = {"2": "tab:blue", "3": "tab:orange", "4": "tab:green", "additional": "tab:purple"}


def write_png(progress: Progress, path: Path) -> Path:
    """A matplotlib chart of score over time: one dot per answer, coloured by round, and a running mean."""
    if not progress.series:
        raise CoachError("no graded attempts yet; nothing to chart")
    if path.suffix.lower() != ".png":
        raise CoachError(f"{path}: the chart is a PNG; name the file *.png")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for round_ in sorted({p.round for p in progress.series}, key=lambda r: ROUND_ORDER.get(r, 9)):
        points = [p for p in progress.series if p.round == round_]
        axes.scatter(
            [p.when for p in points],
            [p.score for p in points],
            label=round_label(round_) if round_ else "other",
            color=ROUND_COLOURS.get(round_, "tab:gray"),
            zorder=3,
        )
    running = []
    for i in range(len(progress.series)):
        window = progress.series[max(0, i - TREND_WINDOW + 1) : i + 1]
        running.append(sum(p.score for p in window) / len(window))
    axes.plot(
        [p.when for p in progress.series],
        running,
        color="black",
        linewidth=1.5,
        label=f"mean of the last {TREND_WINDOW} answers",
    )
    locator = AutoDateLocator()
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    axes.set_ylim(0, 10.2)
    axes.set_ylabel("score /10")
    axes.set_title(f"Score over time ({len(progress.series)} graded answers)")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="lower right", fontsize="small")
    figure.tight_layout()
    try:
        figure.savefig(path, format="png")
    except OSError as exc:
        raise CoachError(f"cannot write {path} ({exc.strerror})") from None
    return path
